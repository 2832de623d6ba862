// Concurrency: five build-immediate actions and a cron run at once. Juju serialises actions
// with the machine lock (so does the stand-in context runner); the cron run is not under it.
// Exactly one build runs (the builds share one flock); every action that did not start it
// says already-running; a cron run that loses waits LOCK_WAIT_SECONDS for the lock, then
// exits 75 without building and without firing build_failed. The build is held at the stand-in's
// `build-gate` until the race is decided (an event, whatever the machine's load).
import { it, type ExpectStatic } from 'vitest';
import { BUILD_RUNNING_PATH, LOCK_BUSY_EXIT } from '../../src/charm/paths.js';
import type { DispatchResult } from '../support/juju.js';
import { checkLeaks, checkNoUncaught, checkOutcome, eventually, runCron, settledUnit, waitIdle, type Hostile } from './support.js';

/**
 * The `status` an action set, from its own action-set calls: the stand-in's action/results.json
 * is one file per unit, reset when the next queued action starts, so it is read too late here.
 */
function actionStatus(r: DispatchResult): string | undefined {
  const set = r.calls.filter((c) => c.tool === 'action-set').flatMap((c) => c.argv);
  return set.find((a) => a.startsWith('status='))?.slice('status='.length);
}

async function fireActions(h: Hostile): Promise<DispatchResult[]> {
  return Promise.all(Array.from({ length: 5 }, () => h.dispatch({ action: 'build-immediate' })));
}

/** After the race: one new build, published; no failure reported; nothing else running. */
async function exactlyOneBuild(expect: ExpectStatic, h: Hostile, what: string): Promise<void> {
  const u = h.u;
  await eventually('the raced build to be published', () => h.imageId() === 'img-raced');
  await waitIdle(u);
  expect(u.builds().map((b) => b.id)).toEqual(['img-first', 'img-raced']);
  expect(u.hostCalls().filter((c) => c.prog === 'github-runner-image-builder' && c.argv[2] === 'run')).toHaveLength(2);
  expect(u.allLogs().filter((l) => /image build failed/.test(l.message))).toEqual([]);
  expect(u.statusHistory().filter((s) => /Last build failed/.test(s.message))).toEqual([]);
  expect(u.unitStatus().message).toMatch(/^Serving image img-raced /);
  expect.soft(checkNoUncaught(h, what)).toEqual([]);
  expect.soft(checkLeaks(h, what)).toEqual([]);
}

async function together(expect: ExpectStatic): Promise<void> {
    const h = await settledUnit();
    const u = h.u;
    // The build is held at the gate until cron has either lost or become the builder: under load,
    // a build of a fixed length could end before cron's leader check returns (a second, legal build).
    u.setHostKnob('build-gate', '1');
    u.setHostKnob('next-image-id', 'img-raced');
    let cronResult: Awaited<ReturnType<typeof runCron>> | undefined;
    const cronDone = runCron(u, 300_000).then((r) => (cronResult = r));
    const actions = await fireActions(h);
    await eventually('cron to lose the lock or to hold it', () => cronResult !== undefined || /scheduled$/.test((u.readHostFile(BUILD_RUNNING_PATH) ?? '').trim()));
    u.setHostKnob('build-gate', undefined);
    const cron = await cronDone;
    actions.forEach((r, i) => expect.soft(checkOutcome(r, { code: 0 }, `action ${i + 1} of 5`)).toEqual([]));
    const statuses = actions.map(actionStatus);
    const started = statuses.filter((s) => s === 'started').length;
    // Whoever got the build lock first built; cron exits 0 after its build, 75 when it lost.
    expect([0, LOCK_BUSY_EXIT]).toContain(cron.code);
    expect(started + (cron.code === 0 ? 1 : 0), `actions: ${statuses.join(', ')}; cron exited ${cron.code}`).toBe(1);
    expect(statuses.filter((s) => s === 'already-running')).toHaveLength(5 - started);
    await exactlyOneBuild(expect, h, 'five actions and cron together');
}

async function cronLoses(expect: ExpectStatic): Promise<void> {
    const h = await settledUnit();
    const u = h.u;
    u.setHostKnob('build-gate', '1'); // the first action's build holds the lock until cron has given up
    u.setHostKnob('next-image-id', 'img-raced');
    const actions = fireActions(h);
    // The cron job fires while the first action's build holds the lock (the others still queue).
    await eventually('the first build to start', () => u.hostCalls().filter((c) => c.prog === 'github-runner-image-builder' && c.argv[2] === 'run').length === 2);
    const cron = await runCron(u, 300_000);
    u.setHostKnob('build-gate', undefined);
    const results = await actions;
    expect(cron.code, 'cron gave up after waiting for the lock').toBe(LOCK_BUSY_EXIT);
    expect(results.map(actionStatus).sort()).toEqual(['already-running', 'already-running', 'already-running', 'already-running', 'started']);
    results.forEach((r, i) => expect.soft(checkOutcome(r, { code: 0 }, `action ${i + 1} of 5`)).toEqual([]));
    await exactlyOneBuild(expect, h, 'cron loses to an action');
}

export function registerConcurrency(): void {
  it('five build-immediate actions and a cron run, fired together or cron last: exactly one build; the others already-running; a losing cron builds nothing, fires no build_failed', async ({ expect }) => {
    await Promise.all([together(expect), cronLoses(expect)]);
  });
}
