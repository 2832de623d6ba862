// Several units of one application, as Juju runs them (test/support/app.ts: each unit its own
// dispatch, host and hook tools; peer data flowing between them), with two bases, read the way
// Canonical's github-runner charm reads the image relation. The cloud is the loopback stand-in
// where every build lands: units serve a peer's image only once the cloud confirms it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_LOG_PATH, BUILD_RUNNING_PATH } from '../../src/charm/paths.js';
import { createApplication, type SimApplication } from '../support/app.js';
import { buildImageBuilderCharmDir } from '../support/charm-dir.js';
import { cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import { startFakeCloud, type FakeCloud } from '../support/fake-cloud.js';
import { runProcess, type Databag, type SimUnit } from '../support/juju.js';
import { rmSync } from 'node:fs';

const APP = 'github-runner-image-builder';
const CONSUMER_UNITS = ['github-runner/0'];
/** What Juju itself keeps in every unit bag: a real bag is never empty. */
const ADDRESSES = { 'private-address': '10.1.0.10', 'ingress-address': '10.1.0.10', 'egress-subnets': '10.1.0.10/32' };

/**
 * A faithful copy of github-runner's read (src/charm_state.py):
 *   for unit in relation.units:            # a set: the order is arbitrary
 *       data = relation.data[unit]
 *       if not data: continue
 *       return OpenstackImage(id=data.get("id"), tags=[t.strip() for t in data.get("tags", "").split(",") if t])
 */
function consumerRead(bags: Readonly<Record<string, Databag>>, units: readonly string[]): { id: string | undefined; tags: string[] } | undefined {
  for (const unit of units) {
    const data = bags[unit];
    if (!data || Object.keys(data).length === 0) continue;
    return { id: data.id, tags: (data.tags ?? '').split(',').filter((t) => t).map((t) => t.trim()) };
  }
  return undefined;
}

/** What the consumer sees, for each order in which its set may list the provider's units. */
function consumerViews(app: SimApplication): ({ id: string | undefined; tags: string[] } | undefined)[] {
  const bags: Record<string, Databag> = {};
  app.units.forEach((u) => (bags[u.unitName] = u.relations()['image:1']!['local-unit']));
  const names = app.units.map((u) => u.unitName);
  return names.map((_, i) => consumerRead(bags, [...names.slice(i), ...names.slice(0, i)]));
}

/** The unit's cron entry run as cron runs it (a scheduled build). */
function runCron(u: SimUnit) {
  const job = u.readHostFile('/etc/cron.d/build-runner-image')!.split('\n').find((l) => l && !l.startsWith('#'))!;
  return runProcess('/bin/sh', ['-c', job.replace(/^(\S+\s+){5}root\s+/, '')], { env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
}

const builtBy = (app: SimApplication) => app.units.map((u) => u.builds().length);
const idle = (app: SimApplication) => eventually('builds to end', () => app.units.every((u) => !u.readHostFile(BUILD_RUNNING_PATH)));

/** Waits for `n` more builds on unit i (its builds fire hooks through juju-exec), then lets peer data flow. */
async function buildsReported(app: SimApplication, i: number, total: number): Promise<void> {
  const u = app.unit(i);
  await eventually(`${total} builds on ${u.unitName}`, () => u.builds().length === total);
  await idle(app);
  await eventually(`the builds reported on ${u.unitName}`, () => u.statusHistory().length > 0 && u.allLogs().filter((l) => /new (noble|jammy) image/.test(l.message)).length >= total);
  await app.settle();
}

let built: string;
let app: SimApplication;
let cloud: FakeCloud;
/** Every image any unit's builder stand-in made lands in the cloud, in build order: units confirm peers' images there. */
function landBuilds(): void {
  const known = new Set(cloud.images.map((i) => i.id));
  const t0 = Date.now() - 3600_000;
  for (const b of (app?.units ?? []).flatMap((u) => u.builds())) {
    if (known.has(b.id)) continue;
    known.add(b.id);
    cloud.images.push({ id: b.id, name: b.image, status: 'active', created_at: new Date(t0 + cloud.images.length * 1000).toISOString().replace(/\.\d+Z$/, 'Z') });
  }
}
beforeAll(async () => {
  built = await buildImageBuilderCharmDir();
  cloud = await startFakeCloud({ beforeRequest: landBuilds });
});
afterAll(async () => {
  app?.cleanup();
  rmSync(built, { recursive: true, force: true });
  await cloud?.close();
});

describe('three units, two bases, one consumer', () => {
  it('only the leader builds; every unit publishes the newest images; leadership moves without a hook; forwarded builds run once on the leader', async () => {
    app = createApplication({
      charmDir: built,
      appName: APP,
      units: 3,
      leader: 0,
      peerEndpoint: 'builder-peers',
      config: { 'base-image': 'noble, jammy', interval: 6, 'openstack-clouds-yaml': cloudsYaml(cloud.authUrl), 'cloud-name': '', 'revision-history-limit': 5 },
      relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: CONSUMER_UNITS, localUnit: ADDRESSES }],
    });
    for (const r of await app.dispatchAll('install')) expect(r.code, r.stderr).toBe(0);
    await app.electLeader(0);
    await app.settle();

    // The install build: on the leader only, both bases in one run.
    await buildsReported(app, 0, 2);
    expect(builtBy(app)).toEqual([2, 0, 0]);
    const first = app.unit(0).builds();
    expect(first.map((b) => b.base)).toEqual(['noble', 'jammy']);
    const bags = app.units.map((u) => u.relations()['image:1']!['local-unit']);
    for (const bag of bags) {
      expect(bag.id).toBe(first[0]!.id);
      expect(bag.tags).toBe('x64,noble');
      expect(JSON.parse(bag.images!)).toEqual([
        { id: first[0]!.id, tags: 'x64,noble' },
        { id: first[1]!.id, tags: 'x64,jammy' },
      ]);
    }
    expect(consumerViews(app)).toEqual(Array(3).fill({ id: first[0]!.id, tags: ['x64', 'noble'] }));
    expect(app.unit(1).unitStatus().message).toMatch(new RegExp(`^Standing by: ${APP}/0 \\(the leader\\) builds; serving image ${first[0]!.id} `));

    // A scheduled run on every unit: exactly one builds (both bases).
    for (const u of app.units) expect((await runCron(u)).code).toBe(0);
    await buildsReported(app, 0, 4);
    expect(builtBy(app)).toEqual([4, 0, 0]);
    expect(app.unit(1).readHostFile(BUILD_LOG_PATH)).toMatch(/scheduled build skipped: github-runner-image-builder\/1 is not the leader \(is-leader: false\)/);
    const second = app.unit(0).builds()[2]!;
    expect(consumerViews(app)).toEqual(Array(3).fill({ id: second.id, tags: ['x64', 'noble'] }));

    // Unit 0 loses leadership with no hook: its scheduled run builds nothing.
    app.setLeader(1);
    expect((await runCron(app.unit(0))).code).toBe(0);
    expect(builtBy(app)).toEqual([4, 0, 0]);
    // The new leader learns it, takes over the schedule and builds.
    await app.electLeader(1);
    await app.settle();
    expect((await runCron(app.unit(1))).code).toBe(0);
    await buildsReported(app, 1, 2);
    expect(builtBy(app)).toEqual([4, 2, 0]);
    const third = app.unit(1).builds()[0]!;
    expect(consumerViews(app)).toEqual(Array(3).fill({ id: third.id, tags: ['x64', 'noble'] }));
    expect(app.unit(0).unitStatus().message).toMatch(new RegExp(`^Standing by: ${APP}/1 \\(the leader\\) builds`));

    // build-immediate on a non-leader: handed to the leader, one build there.
    const forwarded = await app.dispatch(2, { action: 'build-immediate' });
    expect(forwarded.actionResults).toMatchObject({ status: 'forwarded', leader: `${APP}/1` });
    await app.settle();
    await buildsReported(app, 1, 4);
    await app.settle();
    expect(builtBy(app)).toEqual([4, 4, 0]);
    const fourth = app.unit(1).builds()[2]!;
    expect(consumerViews(app)).toEqual(Array(3).fill({ id: fourth.id, tags: ['x64', 'noble'] }));
  });
});
