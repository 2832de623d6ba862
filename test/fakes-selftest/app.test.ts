// The multi-unit harness (test/support/app.ts) with a tiny sh charm: three units of one
// application with a peer relation, each its own simulated unit. What the controller does
// between them (docs/juju-hook-contract.md §7): databag changes reach the other units' views
// and owe them relation-changed (JUJU_REMOTE_UNIT the writer, or empty for the application
// databag), leadership moves without a hook, is-leader answers through juju-exec.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApplication, type CreateApplicationOptions, type SimApplication } from '../support/app.js';
import { eventually } from '../support/eventually.js';
import { waitsForLock } from '../support/locks.js';

const APP = 'github-runner-image-builder';
const U = (i: number) => `${APP}/${i}`;
const PEER = 'builders';

/**
 * Each run appends `<dispatch path>|<JUJU_REMOTE_UNIT or <unset>>|<JUJU_REMOTE_APP>|<the peer
 * app bag as this unit reads it>` to seen.log in its charm dir, then evals $SCRIPT (given per
 * dispatch) and sources always.sh when the charm dir has one.
 */
const DISPATCH = `#!/bin/sh
app=$(relation-get --format=json -r ${PEER}:0 --app - "$JUJU_UNIT_NAME" 2>&1)
printf '%s|%s|%s|%s\\n' "\${JUJU_DISPATCH_PATH:-}" "\${JUJU_REMOTE_UNIT-<unset>}" "\${JUJU_REMOTE_APP:-}" "$app" >> seen.log
if [ -n "\${SCRIPT:-}" ]; then eval "$SCRIPT" || exit $?; fi
if [ -f always.sh ]; then . ./always.sh; fi
exit 0
`;

const charmDir = mkdtempSync(path.join(tmpdir(), 'app-selftest-charm-'));
writeFileSync(path.join(charmDir, 'dispatch'), DISPATCH, { mode: 0o755 });
const apps: SimApplication[] = [];
afterAll(() => {
  for (const a of apps) a.cleanup();
  rmSync(charmDir, { recursive: true, force: true });
});

function app(opts: Partial<CreateApplicationOptions> = {}): SimApplication {
  const a = createApplication({
    charmDir,
    units: 3,
    peerEndpoint: PEER,
    config: { interval: 6 },
    relations: [{ endpoint: 'image', id: 5, app: 'github-runner', units: ['github-runner/0', 'github-runner/1'] }],
    ...opts,
  });
  apps.push(a);
  return a;
}

/** The lines of unit i's seen.log after the first `skip`. */
const seen = (a: SimApplication, i: number, skip = 0): string[] => {
  try {
    return readFileSync(path.join(a.unit(i).charmDir, 'seen.log'), 'utf8').split('\n').filter(Boolean).slice(skip);
  } catch {
    return [];
  }
};
const script = (text: string) => ({ env: { SCRIPT: text } });

describe('createApplication', () => {
  it('makes units of one application, each with its own files and charm dir, the peer relation on each with the others as remote units', () => {
    const a = app();
    expect(a.units.map((u) => u.unitName)).toEqual([U(0), U(1), U(2)]);
    expect(new Set(a.units.map((u) => u.jujuDir)).size).toBe(3);
    expect(new Set(a.units.map((u) => u.hostRoot)).size).toBe(3);
    expect(new Set(a.units.map((u) => u.charmDir)).size).toBe(3);
    expect(new Set(a.units.map((u) => u.env.JUJU_MODEL_UUID)).size).toBe(1);
    expect(a.peerKey).toBe(`${PEER}:0`);
    expect(a.units.map((u) => u.isLeader())).toEqual([true, false, false]);
    for (const [i, u] of a.units.entries()) {
      const others = [0, 1, 2].filter((j) => j !== i).map(U);
      expect(u.relations()[`${PEER}:0`]).toMatchObject({ endpoint: PEER, id: 0, app: APP, units: others, 'local-app': {} });
      expect(u.relations()['image:5']).toMatchObject({ app: 'github-runner', units: ['github-runner/0', 'github-runner/1'] });
    }
  });

  it('the leader writes the peer application databag: every unit sees it, the others get relation-changed with JUJU_REMOTE_UNIT empty', async () => {
    const a = app();
    const r = await a.dispatch(0, 'config-changed', script(`relation-set -r ${PEER}:0 --app token=t1`));
    expect(r.code, r.stderr).toBe(0);
    expect(r.followUps.map((e) => [e.unitName, e.hook, e.remoteUnit, e.remoteApp])).toEqual([
      [U(1), `${PEER}-relation-changed`, '', APP],
      [U(2), `${PEER}-relation-changed`, '', APP],
    ]);
    // the data is there before the hooks run
    expect([0, 1, 2].map((i) => a.peerView(i).app)).toEqual([{ token: 't1' }, { token: 't1' }, { token: 't1' }]);
    const fired = await a.settle();
    expect(fired.map((f) => [f.unitName, f.code])).toEqual([
      [U(1), 0],
      [U(2), 0],
    ]);
    expect(seen(a, 1)).toEqual([`hooks/${PEER}-relation-changed||${APP}|{"token":"t1"}`]);
    expect(seen(a, 2)).toEqual([`hooks/${PEER}-relation-changed||${APP}|{"token":"t1"}`]);
    expect(seen(a, 0)).toEqual(['hooks/config-changed|<unset>||{}']);
    expect(a.pending).toEqual([]);
    expect(await a.settle()).toEqual([]);
  });

  it('a unit databag change reaches the others, which get relation-changed naming that unit', async () => {
    const a = app();
    const r = await a.dispatch(1, 'config-changed', script(`relation-set -r ${PEER}:0 addr=10.0.0.11`));
    expect(r.followUps.map((e) => [e.unit, e.remoteUnit])).toEqual([
      [0, U(1)],
      [2, U(1)],
    ]);
    expect(a.peerView(0).peers[U(1)]).toEqual({ addr: '10.0.0.11' });
    expect(a.peerView(2).peers).toEqual({ [U(0)]: {}, [U(1)]: { addr: '10.0.0.11' } });
    const fired = await a.settle();
    expect(fired.map((f) => f.unit)).toEqual([0, 2]);
    expect(seen(a, 0)).toEqual([`hooks/${PEER}-relation-changed|${U(1)}|${APP}|{}`]);
    // relation-get in the fired hook defaults to the changed unit's databag
    const got = await a.unit(2).dispatch(`${PEER}-relation-changed`, { relation: { remoteUnit: U(1) }, ...script('relation-get addr >&2') });
    expect(got.stderr).toBe('10.0.0.11\n');
  });

  it('a non-leader cannot write the peer application databag: the hook fails, nothing propagates', async () => {
    const a = app();
    const r = await a.dispatch(2, 'config-changed', script(`relation-set -r ${PEER}:0 --app token=x`));
    expect(r.code).toBe(1);
    expect(r.followUps).toEqual([]);
    expect([0, 1, 2].map((i) => a.peerView(i).app)).toEqual([{}, {}, {}]);
    // but it reads the bag the leader wrote
    await a.dispatch(0, 'config-changed', script(`relation-set -r ${PEER}:0 --app token=t1`));
    const read = await a.dispatch(2, 'update-status', script(`relation-get -r ${PEER}:0 --app token ${APP} >&2`));
    expect(read.stderr).toBe('t1\n');
  });

  it('coalesces: two changes before the other units run give one relation-changed each; a failed hook commits nothing', async () => {
    const a = app();
    await a.dispatch(1, 'config-changed', script(`relation-set -r ${PEER}:0 n=1`));
    const second = await a.dispatch(1, 'update-status', script(`relation-set -r ${PEER}:0 n=2`));
    expect(second.followUps).toEqual([]);
    const failed = await a.dispatch(1, 'update-status', script(`relation-set -r ${PEER}:0 n=3; exit 1`));
    expect(failed.followUps).toEqual([]);
    expect(a.pending.map((e) => [e.unit, e.remoteUnit])).toEqual([
      [0, U(1)],
      [2, U(1)],
    ]);
    expect(a.peerView(0).peers[U(1)]).toEqual({ n: '2' });
    expect((await a.settle()).length).toBe(2);
  });

  it('setLeader moves leadership without running a hook; electLeader runs leader-elected on the new leader only', async () => {
    const a = app();
    const before = a.units.map((u) => u.allCalls().length);
    a.setLeader(2);
    expect(a.leader).toBe(2);
    expect(a.units.map((u) => u.isLeader())).toEqual([false, false, true]);
    expect(a.units.map((u) => u.allCalls().length)).toEqual(before);
    expect(a.units.map((u, i) => seen(a, i))).toEqual([[], [], []]);

    const r = await a.electLeader(1);
    expect(r.code).toBe(0);
    expect(a.units.map((u) => u.isLeader())).toEqual([false, true, false]);
    expect(a.units.map((u, i) => seen(a, i))).toEqual([[], ['hooks/leader-elected|<unset>||{}'], []]);
    // the new leader writes the application databag; the deposed one may not
    expect((await a.dispatch(0, 'update-status', script(`relation-set -r ${PEER}:0 --app by=0`))).code).toBe(1);
    const w = await a.dispatch(1, 'update-status', script(`relation-set -r ${PEER}:0 --app by=1`));
    expect(w.followUps.map((e) => e.unit)).toEqual([0, 2]);
    expect(a.peerView(2).app).toEqual({ by: '1' });
  });

  it('is-leader through each unit\'s juju-exec (what a cron job or build script runs) prints what is-leader prints', async () => {
    const a = app({ leader: 1 });
    const ask = (i: number, ...cmd: string[]) => a.unit(i).jujuExec([U(i), ...cmd]);
    expect(await ask(1, 'is-leader', '--format=json')).toMatchObject({ code: 0, stdout: 'true\n', stderr: '' });
    expect(await ask(0, 'is-leader', '--format=json')).toMatchObject({ code: 0, stdout: 'false\n', stderr: '' });
    expect(await ask(2, 'is-leader')).toMatchObject({ code: 0, stdout: 'False\n' });
    a.setLeader(2);
    expect(await ask(2, 'is-leader', '--format=json')).toMatchObject({ code: 0, stdout: 'true\n' });
    expect(await ask(1, 'is-leader --format=json')).toMatchObject({ code: 0, stdout: 'false\n' });
    // another unit's name: not on this machine
    expect(await a.unit(0).jujuExec([U(1), 'is-leader', '--format=json'])).toMatchObject({ code: 1, stdout: '', stderr: `ERROR unit "${U(1)}" not found on this machine\n` });
    // when the agent cannot tell
    a.unit(0).setLeadershipUnknown();
    expect(await ask(0, 'is-leader', '--format=json')).toMatchObject({ code: 1, stdout: '', stderr: 'ERROR leadership status unknown: connection is shut down\n' });
    expect(a.unit(0).allCalls().at(-1)).toMatchObject({ tool: 'is-leader', argv: ['--format=json'], context: expect.stringMatching(new RegExp(`^${U(0)}-run-commands-\\d+$`)) });
  });

  it('picks up what a hook fired through juju-exec committed (a build callback), on the next settle', async () => {
    const a = app();
    const cb = await a.unit(2).jujuExec([U(2), `relation-set -r ${PEER}:0 image=img-9`]);
    expect(cb.code).toBe(0);
    expect(a.pending).toEqual([]);
    const fired = await a.settle();
    expect(fired.map((f) => [f.unit, f.followUps.length])).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(seen(a, 0)).toEqual([`hooks/${PEER}-relation-changed|${U(2)}|${APP}|{}`]);
    expect(a.peerView(1).peers[U(2)]).toEqual({ image: 'img-9' });
  });

  it('keeps the one application databag of other relations too (no hook: the consumer is remote); the consumer\'s changes owe every unit relation-changed', async () => {
    const a = app();
    const r = await a.dispatch(0, 'config-changed', script('relation-set -r image:5 --app shared=1 && relation-set -r image:5 mine=0'));
    expect(r.followUps).toEqual([]);
    expect(a.units.map((u) => u.relations()['image:5']!['local-app'])).toEqual([{ shared: '1' }, { shared: '1' }, { shared: '1' }]);
    expect(a.localUnitData('image:5')).toEqual([{ mine: '0' }, {}, {}]);
    a.setLeader(1);
    expect((await a.dispatch(1, 'update-status', script('relation-get --format=json -r image:5 --app - ' + APP + ' >&2'))).stderr).toBe('{"shared":"1"}\n');

    const owed = await a.remoteChanged('image:5', { unit: 'github-runner/1', data: { wants: 'noble' } });
    expect(owed.map((e) => [e.unit, e.hook, e.remoteUnit, e.remoteApp])).toEqual([
      [0, 'image-relation-changed', 'github-runner/1', 'github-runner'],
      [1, 'image-relation-changed', 'github-runner/1', 'github-runner'],
      [2, 'image-relation-changed', 'github-runner/1', 'github-runner'],
    ]);
    const fired = await a.settle();
    expect(fired.map((f) => f.code)).toEqual([0, 0, 0]);
    expect(seen(a, 2).at(-1)).toBe(`hooks/image-relation-changed|github-runner/1|github-runner|{}`);
  });

  it('settle gives up after maxEvents when the units keep answering each other', async () => {
    const a = app({ units: 2 });
    for (const u of a.units) writeFileSync(path.join(u.charmDir, 'always.sh'), `relation-set -r ${PEER}:0 n="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"\n`);
    await a.dispatch(0, 'config-changed');
    await expect(a.settle({ maxEvents: 4 })).rejects.toThrow(/settle: 1 relation-changed event\(s\) still owed after 4 runs/);
  });

  it('waits for a unit\'s running hook before changing its files (the machine lock)', async () => {
    const a = app({ units: 2 });
    // unit 1 runs a slow hook; unit 0's change must not be lost when it commits
    const [started, release] = [path.join(a.unit(1).dir, 'started'), path.join(a.unit(1).dir, 'release')];
    const slow = a.unit(1).dispatch('update-status', script(`touch '${started}'; while [ ! -e '${release}' ]; do sleep 0.05; done; relation-set -r ${PEER}:0 mine=1`));
    await eventually("unit 1's hook to start", () => existsSync(started));
    const change = a.dispatch(0, 'config-changed', script(`relation-set -r ${PEER}:0 addr=a0`));
    await eventually("unit 0's change to wait for unit 1's machine lock", () => waitsForLock(path.join(a.unit(1).jujuDir, 'machine-lock')));
    writeFileSync(release, '');
    await change;
    expect((await slow).code).toBe(0);
    expect(a.peerView(1)).toEqual({ unit: { mine: '1' }, app: {}, peers: { [U(0)]: { addr: 'a0' } } });
    await a.settle();
    expect(a.peerView(0).peers[U(1)]).toEqual({ mine: '1' });
  });
});
