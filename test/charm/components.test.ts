// The charm as components: each handler needs only the options it uses, the single-class unit
// state migrates into the components' bags, and a wrong-shaped stored field is reset, never a
// crash loop. Through the real ImageBuilderCharm in memory (test/support/memory-unit.ts).
import { symlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { on, relation, state, type State } from '../../src/ops/testing/index.js';
import { cloudsYaml } from '../support/clouds.js';
import { MemoryMachine, charmContext, testMachine } from '../support/memory-unit.js';

const APP = 'github-runner-image-builder';
const IMAGE = `noble-${APP}-x64`;
const config = { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5 };
const imageRelation = () => relation('image', { id: 1, remoteApp: 'github-runner' });
const peers = (opts: Partial<Parameters<typeof relation>[1]> = {}) => relation('builder-peers', { id: 9, remoteApp: APP, remoteUnits: [`${APP}/1`], ...opts });

const machine = testMachine;

/** A leader installed with a valid config; then the config goes bad in `interval` only. */
async function installedThenBadInterval(extra: Partial<State> = {}): Promise<{ m: MemoryMachine; s: State }> {
  const m = machine();
  const r = await charmContext(m).run(on.install(), state({ leader: true, config, relations: [imageRelation()], ...extra }));
  expect(r.exitCode, r.stderr).toBe(0);
  const bad = await charmContext(m).run(on.configChanged(), { ...r.state, config: { ...config, interval: 0 } });
  expect(bad.state.unitStatus.status).toBe('blocked');
  return { m, s: bad.state };
}

describe('a handler needs only the options it uses', () => {
  it('with an unrelated option invalid (interval: 0), build_success still refuses an id the cloud does not have', async () => {
    const { m, s } = await installedThenBadInterval();
    const r = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-ghost' }), s);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.state.relations[0]!.localUnitData, 'no id the cloud does not have').toEqual({});
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/image build failed: the builder reported image img-ghost, but cloud testcloud has no such image/));
  });

  it('with interval invalid, a confirmed image is published, and the status still lists the interval problem', async () => {
    const { m, s } = await installedThenBadInterval();
    m.cloud.images.push({ id: 'img-ok', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active' });
    const r = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-ok' }), s);
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-ok');
    expect(r.state.unitStatus).toEqual({ status: 'blocked', message: 'interval must be a whole number of hours from 1 to 24, got 0' });
  });

  it('a non-leader with interval invalid still forwards build-immediate to the leader', async () => {
    const m = machine();
    const follower = await charmContext(m).run(on.install(), state({ leader: false, config, relations: [peers({ localAppData: { leader: `${APP}/1` } })] }));
    const bad = { ...follower.state, config: { ...config, interval: 0 } };
    const r = await charmContext(m).run(on.action('build-immediate'), bad);
    expect(r.actionResults, r.actionFailure).toMatchObject({ status: 'forwarded', leader: `${APP}/1` });
    expect(r.actionResults.message).toMatch(new RegExp(`it builds ${IMAGE} next`));
    expect(r.state.relations[0]!.localUnitData['build-request']).toBe('1');
  });

  it('get-latest answers with interval invalid, and fails naming the cloud option when that is what is wrong', async () => {
    const { m, s } = await installedThenBadInterval();
    m.cloud.images.push({ id: 'img-7', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active' });
    const ok = await charmContext(m).run(on.action('get-latest'), s);
    expect(ok.actionResults).toMatchObject({ id: 'img-7', name: IMAGE });
    const noCloud = await charmContext(m).run(on.action('get-latest'), { ...s, config: { ...config, interval: 0, 'openstack-clouds-yaml': '' } });
    expect(noCloud.actionFailure).toMatch(/^cannot query the cloud: openstack-clouds-yaml is empty/);
    expect(noCloud.actionFailure, 'only the options get-latest uses').not.toMatch(/interval/);
    expect(noCloud.state.unitStatus.message, 'the status lists every problem').toMatch(/interval must be .*; openstack-clouds-yaml is empty|openstack-clouds-yaml is empty.*; interval must be/);
  });

  it('with interval invalid, the host keeps the schedule it had: nothing is rewritten', async () => {
    const { m, s } = await installedThenBadInterval();
    m.programs.calls.length = 0;
    const r = await charmContext(m).run(on.configChanged(), s);
    expect(r.state.unitStatus.status).toBe('blocked');
    expect(m.programs.calls, 'no program runs').toEqual([]);
  });
});

describe('unit state', () => {
  /** What the single-class charm (before components) kept, one bag for everything. */
  const legacyState = (): State['stored'] => ({
    'image-builder': {
      images: { noble: { id: 'img-old', name: IMAGE, createdAt: '2030-01-01T00:00:00Z' } },
      publishAs: { bases: ['noble'], arch: 'x64' },
      leaderName: `${APP}/0`,
      lastFailure: { at: '2029-01-01T00:00:00Z', reason: 'exit code 3' },
      intervalHours: 6,
      metricsPort: 9110,
      scheduleStart: 1700000000,
    },
  });

  it('migrates the single-class layout into the components’ state: the served image stays served', async () => {
    const m = machine();
    m.cloud.images.push({ id: 'img-old', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active' });
    const r = await charmContext(m).run(on.updateStatus(), state({ leader: true, config, relations: [imageRelation()], stored: legacyState() }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.state.stored['image-builder'], 'the old bag is gone').toBeUndefined();
    expect(r.state.stored.images).toMatchObject({ images: { noble: { id: 'img-old' } }, publishAs: { bases: ['noble'], arch: 'x64' } });
    expect(r.state.stored.peers).toEqual({ leaderName: `${APP}/0` });
    expect(r.state.stored.builds).toMatchObject({ lastFailure: { reason: 'exit code 3' } });
    expect(r.state.stored.observability).toMatchObject({ intervalHours: 6, metricsPort: 9110, scheduleStart: 1700000000 });
    expect(r.state.unitStatus).toEqual({ status: 'active', message: 'Serving image img-old (2030-01-01T00:00:00Z)' });
  });

  /** Every stored field of every component, and values of the wrong shape for it. */
  const FIELDS: Record<string, string[]> = {
    settings: ['configProblem', 'secretProblem', 'cloudWarnings'],
    'host-setup': ['scheduleDigest', 'applied', 'stopped', 'setupOwed'],
    images: ['images', 'image', 'publishAs'],
    builds: ['lastFailure'],
    'image-relation': ['publishUnconfirmed'],
    peers: ['leaderName', 'pending', 'buildOwed'],
    observability: ['intervalHours', 'metricsPort', 'scheduleStart', 'cosAgentDigest', 'portProblem'],
    consumers: ['relations', 'identities', 'copies', 'failures', 'waiting'],
    'gone-images': ['emptied'],
  };
  const JUNK: unknown[] = ['x'.repeat(300), 42, -1.5, null, false, [], [1, 'a'], {}, { id: 7 }, { noble: 'img' }, { bases: 'noble', arch: 1 }, { digest: 1, files: 'x' }];
  const HOOKS = [on.stop(), on.remove(), on.updateStatus(), on.configChanged(), on.install(), on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-f' })];

  it('fuzz: a wrong-shaped value in any stored field is logged at ERROR and reset; no hook fails, stop and remove included', async () => {
    const m = machine();
    const base = await charmContext(m).run(on.install(), state({ leader: true, config, relations: [imageRelation(), peers()] }));
    expect(base.exitCode, base.stderr).toBe(0);
    let cases = 0;
    for (const [bag, fields] of Object.entries(FIELDS)) {
      for (const field of fields) {
        for (const junk of JUNK) {
          // A value some field accepts is no junk for it (e.g. `false` is not junk for a bool).
          const hook = HOOKS[cases % HOOKS.length]!;
          cases++;
          const stored = { ...base.state.stored, [bag]: { ...base.state.stored[bag], [field]: junk } };
          const r = await charmContext(m).run(hook, { ...base.state, stored });
          expect(r.exitCode, `${bag}.${field} = ${JSON.stringify(junk)} in ${hook.dispatchPath}: ${r.stderr}`).toBe(0);
          const after = r.state.stored[bag]?.[field];
          const reset = r.logs.some((l) => l.level === 'ERROR' && l.message.includes(`${bag}.${field} had the wrong shape`));
          // Either the value had an acceptable shape (kept or rewritten by the hook), or it was reset with an ERROR.
          if (reset) expect(after, `${bag}.${field} reset`).not.toEqual(junk);
          else expect(acceptable(bag, field, junk), `${bag}.${field} = ${JSON.stringify(junk)} kept without an ERROR`).toBe(true);
        }
      }
    }
    expect(cases).toBe(Object.values(FIELDS).flat().length * JUNK.length);
  });
});

/** The few junk values that happen to have a field's shape (checked by hand against stored.ts's checks). */
function acceptable(bag: string, field: string, v: unknown): boolean {
  if (typeof v === 'string') return ['configProblem', 'scheduleDigest', 'leaderName', 'cosAgentDigest', 'portProblem'].includes(field);
  if (Number.isSafeInteger(v)) return ['intervalHours', 'metricsPort', 'scheduleStart', 'waiting'].includes(field);
  if (Array.isArray(v)) return field === 'cloudWarnings' && v.every((x) => typeof x === 'string');
  if (v && typeof v === 'object' && Object.keys(v).length === 0) return (bag === 'images' && field === 'images') || (bag === 'peers' && field === 'pending') || bag === 'consumers' || bag === 'gone-images';
  // A map of strings: the consumers' relation map, identities and failures.
  if (v && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'string')) return bag === 'consumers' && ['relations', 'identities', 'failures'].includes(field);
  return false;
}

describe('observability', () => {
  it('update-status names a metrics-port another process holds, and says so when nothing listens there', async () => {
    const { createServer } = await import('node:net');
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    const m = machine();
    symlinkSync('/proc', m.hostPath('/proc')); // the machine's own kernel tables: the squatter is real
    const installed = await charmContext(m).run(on.install(), state({ leader: true, config: { ...config, 'metrics-port': port }, relations: [imageRelation()] }));
    expect(installed.exitCode, installed.stderr).toBe(0);
    const taken = await charmContext(m).run(on.updateStatus(), installed.state);
    expect(taken.state.unitStatus.message).toMatch(new RegExp(`warning: metrics-port ${port} is taken by another process .*set another metrics-port`));
    await new Promise((resolve) => squatter.close(resolve));
    const free = await charmContext(m).run(on.updateStatus(), taken.state);
    expect(free.state.unitStatus.message).not.toMatch(/is taken by another process/);
    // Nothing holds it now, systemd neither (no .socket here): said too, naming the port.
    expect(free.state.unitStatus.message).toMatch(new RegExp(`the exporter is not listening on 127\\.0\\.0\\.1:${port}`));
  });
});
