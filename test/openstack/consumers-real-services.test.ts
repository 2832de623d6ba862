// Issue 20 end to end: the image relation's consumers, each with its own OpenStack project, get
// the image copied into THAT project. The real `dispatch` runs as Juju would run it (stand-in
// hook tools and host programs, test/fakes), against the real Keystone + Glance of
// scripts/openstack/start.sh: the build cloud is the suite's demo project; the consumers are
// its runners-a and runners-b projects, each with its own user, whose six keys reach the charm
// through the relation. The builder stand-in does not upload: this file uploads a small image
// into the build project and makes the stand-in report its id; the charm then starts the real
// copier (dist/copier.js of the charm dir) detached, which reports back through juju-exec.
// Outside CI, without the services, this file reports NOT RUN; in CI it fails.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bundleCopier } from '../../scripts/bundle.mjs';
import { imageName } from '../../src/charm/build-config.js';
import { parseCopyResult } from '../../src/charm/copies.js';
import { BUILD_RUNNING_PATH, CONSUMER_CLOUDS_PATH, COPY_LOG_PATH, COPY_RESULT_PATH, METRICS_DIR } from '../../src/charm/paths.js';
import { OpenStackClient, parseCloudsYaml, resolveCloud } from '../../src/openstack/index.js';
import { UNIT_STATE_FILE } from '../../src/ops/storage.js';
import { buildImageBuilderCharmDir } from '../support/charm-dir.js';
import { charmUnits } from '../support/charm-units.js';
import { eventually } from '../support/eventually.js';
import type { DispatchResult, SimUnit } from '../support/juju.js';
import { consumerCloudsYaml, openstackSuite, SuiteImages, type SuiteConsumer } from '../support/openstack.js';
import { guardOpenStackSuite } from '../support/openstack-guard.js';
import { waitIdle } from '../support/unit-processes.js';

const suite = await openstackSuite();

/** Properties a runner image carries: each consumer's copy must have them. */
const PROPERTIES = { architecture: 'x86_64', min_ram: 512, min_disk: 3, hw_firmware_type: 'uefi', hw_disk_bus: 'scsi', os_distro: 'ubuntu', os_version: '24.04', os_type: 'linux' };
/** A small image (not a round size): the copy moves every byte and Glance hashes it. */
const DATA = randomBytes(96 * 1024 + 77);

/** The charm dir as packed (dispatch, dist/charm.js) with the real copier bundled beside the charm. */
async function charmDirWithCopier(): Promise<string> {
  const dir = await buildImageBuilderCharmDir();
  await bundleCopier({ outfile: path.join(dir, 'dist/copier.js') });
  return dir;
}

if (guardOpenStackSuite(suite, 'consumers get copies in their own projects, through dispatch')) {
  describe('consumers with their own projects, through dispatch, against real Keystone + Glance', { timeout: 600_000 }, () => {
    const run = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
    // An application name of this run's own: the image name derives from it, so images of other
    // suites sharing the services are never this file's.
    const app = `imgb-${run}`;
    const name = imageName({ base: 'noble', appName: app, arch: 'x64' });
    const unitOf = charmUnits({ beforeAll, afterAll }, charmDirWithCopier);
    const [a, b] = suite.consumers as [SuiteConsumer, SuiteConsumer];
    // What github-runner sends: the `auth` map of its cloud, here the suite's consumer clouds.
    const sixKeys = (c: SuiteConsumer) => {
      const auth = (parse(consumerCloudsYaml(suite, [c])) as { clouds: Record<string, { auth: Record<string, string> }> }).clouds[c.cloudName]!.auth;
      expect(Object.keys(auth).sort()).toEqual(['auth_url', 'password', 'project_domain_name', 'project_name', 'user_domain_name', 'username']);
      return auth;
    };
    const canaries = () => [a.password, b.password];

    let u: SimUnit;
    let admin: SuiteImages;
    const mine = new Map<string, SuiteImages>();
    let sourceId = '';
    let source: Record<string, unknown>;
    /** Each consumer's copy as first published. */
    const firstCopy: Record<string, string> = {};

    const idOf = (relationId: number) => u.relations()[`image:${relationId}`]?.['local-unit'].id;
    const consumerCloudsFile = () => u.readHostFile(CONSUMER_CLOUDS_PATH);
    const copyResult = () => parseCopyResult(u.readHostFile(COPY_RESULT_PATH) ?? '');
    const ok = (r: DispatchResult) => expect(r.code, r.stderr).toBe(0);
    /** Juju's order for a consumer that joins: joined, then changed (where its data is read). */
    const join = async (id: number) => {
      ok(await u.dispatch('image-relation-joined', { relation: { id } }));
      ok(await u.dispatch('image-relation-changed', { relation: { id } }));
    };
    /** What Glance stores for `id`, asked as admin (any project's image). */
    const stored = (id: string) => admin.details(id);

    /** A copy as it should be: active, owned by the consumer's project, the source's bytes and properties. */
    async function expectCopyIn(c: SuiteConsumer, id: string) {
      const image = await stored(id);
      expect(image.owner).toBe(c.projectId);
      expect(image.owner).not.toBe(suite.demo.projectId);
      expect(image).toMatchObject({ status: 'active', name, size: DATA.length, disk_format: 'qcow2', container_format: 'bare', ...PROPERTIES });
      expect(image.os_hash_algo).toBe(source.os_hash_algo);
      expect(image.os_hash_value).toBe(source.os_hash_value);
      expect(image.checksum).toBe(source.checksum);
      // The consumer's own user sees it active: its runners can boot it.
      expect(await mine.get(c.cloudName)!.status(id)).toBe('active');
    }

    beforeAll(async () => {
      expect(suite.consumers.length).toBeGreaterThanOrEqual(2);
      admin = await SuiteImages.open(suite, 'admin');
      for (const c of [a, b]) mine.set(c.cloudName, await SuiteImages.open(suite, c));
      // The image "the builder built": uploaded into the build project with the charm's own client.
      const build = new OpenStackClient(resolveCloud(parseCloudsYaml(suite.cloudsYaml), suite.cloudName));
      const created = await build.createImage({ name, disk_format: 'qcow2', container_format: 'bare', ...PROPERTIES });
      sourceId = created.id;
      await build.uploadImage(sourceId, Readable.from([DATA]), DATA.length);
      source = await stored(sourceId);
      expect(source).toMatchObject({ status: 'active', owner: suite.demo.projectId });

      u = unitOf({
        unitName: `${app}/0`,
        config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': suite.cloudsYaml, 'cloud-name': '', 'revision-history-limit': 5 },
        relations: [
          // runners-a: its own project, its credentials in its unit's databag.
          { endpoint: 'image', id: 1, app: 'runners-a', units: ['runners-a/0'], remoteUnits: { 'runners-a/0': sixKeys(a) } },
          // A consumer that sends no credentials boots from the build project: it gets the build's id.
          { endpoint: 'image', id: 3, app: 'runners-build', units: ['runners-build/0'] },
        ],
      });
      u.setHostKnob('next-image-id', sourceId);
    });

    afterAll(async () => {
      if (u) await waitIdle(u).catch(() => undefined);
      // The copies were made by the code under test: every image of this run's name goes.
      for (const images of [...mine.values(), admin]) {
        if (!images) continue;
        for (const { id } of await images.named(name)) images.created.add(id);
        await images.cleanup();
      }
    });

    it('a consumer with the six keys gets a verified copy in its own project; a consumer without keys gets the build id', async () => {
      // The build waits at the gate until the consumers have joined (Juju runs relation hooks
      // after install; the gate only makes the order fixed).
      u.setHostKnob('build-gate', '');
      ok(await u.dispatch('install'));
      await join(1);
      await join(3);
      // runners-a's cloud is written, root-only, with exactly its six keys.
      const file = consumerCloudsFile();
      expect(file).toBeDefined();
      const st = statSync(u.hostPath(CONSUMER_CLOUDS_PATH));
      expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
      expect(parse(file!)).toEqual({ clouds: { [a.cloudName]: { auth: sixKeys(a) } } });
      expect(idOf(1)).toBeUndefined();

      u.setHostKnob('build-gate', undefined);
      const idA = await eventually('runners-a to be published its copy', () => idOf(1));
      expect(idA).not.toBe(sourceId);
      await expectCopyIn(a, idA);
      expect(await eventually('the build-project consumer to get the build id', () => idOf(3))).toBe(sourceId);
      await waitIdle(u);
      expect(u.builds()).toHaveLength(1);
      expect(u.relations()['image:1']!['local-unit']).toMatchObject({ id: idA, tags: 'x64,noble', name });
      // runners-a's project holds that one copy of the image.
      expect((await mine.get(a.cloudName)!.named(name)).map((i) => i.id)).toEqual([idA]);
      expect(copyResult()?.outcomes).toEqual([expect.objectContaining({ cloud: a.cloudName, base: 'noble', sourceId, image: expect.objectContaining({ id: idA }) })]);
      firstCopy[a.cloudName] = idA;
    });

    it('a consumer joining late gets a copy in its own project without a build, while a build holds the build lock; the first keeps its copy', async () => {
      const builds = u.builds().length;
      // A build runs, held at the builder's gate, while runners-b joins: copies have their own lock.
      u.setHostKnob('build-gate', '');
      const before = u.hostCalls().length;
      const started = await u.dispatch({ action: 'build-immediate' });
      ok(started);
      expect(started.actionResults).toMatchObject({ status: 'started' });
      await eventually('the build to reach the builder', () => u.hostCalls().slice(before).some((c) => c.prog === 'github-runner-image-builder' && c.argv.includes('run')));

      u.addRelation({ endpoint: 'image', id: 2, app: 'runners-b', units: ['runners-b/0'], remoteUnits: { 'runners-b/0': sixKeys(b) } });
      await join(2);
      const idB = await eventually('runners-b to be published its copy', () => idOf(2));
      // Published while the build still holds its lock: no build finished for it.
      expect(existsSync(u.hostPath(BUILD_RUNNING_PATH))).toBe(true);
      expect(u.builds()).toHaveLength(builds);
      await expectCopyIn(b, idB);
      // Each relation is published its own project's copy.
      expect(idOf(1)).toBe(firstCopy[a.cloudName]);
      expect(idOf(3)).toBe(sourceId);
      expect(new Set([idOf(1), idOf(2), idOf(3)]).size).toBe(3);
      expect(Object.keys(parse(consumerCloudsFile()!).clouds as object).sort()).toEqual([a.cloudName, b.cloudName]);
      // runners-a already had it: reused, no second copy there.
      const outcomes = copyResult()!.outcomes;
      expect(outcomes.find((o) => o.cloud === a.cloudName)).toMatchObject({ reused: true, image: { id: firstCopy[a.cloudName] } });
      expect(outcomes.find((o) => o.cloud === b.cloudName)).toMatchObject({ image: { id: idB } });
      expect(outcomes.find((o) => o.cloud === b.cloudName)?.reused).toBeUndefined();

      // The build ends, reporting the image every consumer already has: nothing moves.
      u.setHostKnob('build-gate', undefined);
      await eventually('the build to end', () => !existsSync(u.hostPath(BUILD_RUNNING_PATH)));
      await waitIdle(u);
      expect(u.builds()).toHaveLength(builds + 1);
      expect([idOf(1), idOf(2), idOf(3)]).toEqual([firstCopy[a.cloudName], idB, sourceId]);
      expect((await mine.get(a.cloudName)!.named(name)).map((i) => i.id)).toEqual([firstCopy[a.cloudName]]);
      expect((await mine.get(b.cloudName)!.named(name)).map((i) => i.id)).toEqual([idB]);
      firstCopy[b.cloudName] = idB;
    });

    it('a copy deleted behind the charm\'s back is dropped on the next update-status and copied again', async () => {
      const gone = firstCopy[a.cloudName]!;
      await admin.delete(gone);
      const builds = u.builds().length;
      const r = await u.dispatch('update-status');
      ok(r);
      // The gone id is taken off runners-a's relation in that very hook (no image is better than a deleted one).
      const sets = r.calls.filter((c) => c.tool === 'relation-set' && c.argv.includes('image:1')).map((c) => JSON.parse(c.stdin ?? '{}') as Record<string, string>);
      expect(sets.at(-1)).toMatchObject({ id: '' });
      expect(JSON.stringify(sets)).not.toContain(gone);
      const again = await eventually('runners-a to be published a new copy', () => (idOf(1) && idOf(1) !== gone ? idOf(1) : undefined));
      await expectCopyIn(a, again);
      await waitIdle(u);
      expect(await admin.named(name).then((l) => l.map((i) => i.id))).not.toContain(gone);
      // Nothing else moved: no build, runners-b and the build-project consumer keep theirs.
      expect(u.builds()).toHaveLength(builds);
      expect(idOf(2)).toBe(firstCopy[b.cloudName]);
      expect(idOf(3)).toBe(sourceId);
      // Counted for the alert: a published image was found gone in runners-a's cloud.
      const metrics = JSON.parse(u.readHostFile(`${METRICS_DIR}/gone-${a.cloudName}.json`)!) as Record<string, number>;
      expect(metrics.gone_replaced).toBe(1);
      firstCopy[a.cloudName] = again;
    });

    it('relation-broken removes that consumer\'s cloud from the consumer clouds file', async () => {
      ok(await u.dispatch('image-relation-departed', { relation: { id: 2, departingUnit: 'runners-b/0' } }));
      ok(await u.dispatch('image-relation-broken', { relation: { id: 2 } }));
      u.removeRelation('image:2');
      const file = consumerCloudsFile()!;
      expect(parse(file)).toEqual({ clouds: { [a.cloudName]: { auth: sixKeys(a) } } });
      expect(file).not.toContain(b.password);
      expect(file).not.toContain(b.cloudName);
      const st = statSync(u.hostPath(CONSUMER_CLOUDS_PATH));
      expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
      // runners-a is still served.
      ok(await u.dispatch('update-status'));
      expect(idOf(1)).toBe(firstCopy[a.cloudName]);
      await waitIdle(u);
    });

    it('no consumer password in a log line, hook-tool argv, status, unit state, copy log, copy result or metrics', async () => {
      const copyLog = u.readHostFile(COPY_LOG_PATH) ?? '';
      expect(copyLog).toContain(a.cloudName); // the log is there and says what it did
      const metricsDir = u.hostPath(METRICS_DIR);
      const metrics = readdirSync(metricsDir).map((f) => readFileSync(path.join(metricsDir, f), 'utf8'));
      const unitState = readFileSync(path.join(u.charmDir, UNIT_STATE_FILE), 'utf8');
      const seen = JSON.stringify([
        u.allLogs(),
        u.allCalls(),
        u.statusHistory(),
        u.unitStatus(),
        u.appStatus(),
        u.charmState(),
        u.hostCalls(),
        unitState,
        copyLog,
        u.readHostFile(COPY_RESULT_PATH),
        metrics,
      ]);
      for (const password of canaries()) expect(seen).not.toContain(password);
      // Where a password is at all: the model's relation data and the root-only consumer clouds
      // file; runners-b's, whose relation is gone, nowhere.
      const where = (needle: string) => {
        const out = execFileSync('grep', ['-rlF', '--', needle, u.dir, u.charmDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
        return out ? out.split('\n').sort() : [];
      };
      const grep = (needle: string) => {
        try {
          return where(needle);
        } catch {
          return []; // grep exits 1: not found
        }
      };
      expect(grep(a.password)).toEqual([path.join(u.jujuDir, 'state/relations.json'), u.hostPath(CONSUMER_CLOUDS_PATH)].sort());
      expect(grep(b.password)).toEqual([]);
      expect(existsSync(u.hostPath(BUILD_RUNNING_PATH))).toBe(false);
    });
  });
}
