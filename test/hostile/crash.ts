// Crash safety: a dispatch SIGKILLed at chosen points (a stand-in host program hanging between
// two writes, then the whole hook's process group killed from outside; or, inside a write,
// the test-only preload kill-at.mjs). Afterwards every file is the old or the new content,
// never torn, and the next dispatch (Juju's retry) works and finishes what the killed one
// started: no lost rebuild, no stale relation data, no temp file left on the host.
// Known and not checked here: a kill inside the state commit leaves the framework's temp file
// (`..unit-state.json.tmp-<pid>-<rand>`) in the charm dir for good; src/ops/storage.ts does not
// clean up after a killed predecessor (the charm's Host does, for host files). It is never read.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { it, type ExpectStatic } from 'vitest';
import type { DispatchEvent, DispatchResult } from '../support/juju.js';
import {
  BUILD_SCRIPT,
  CANARY,
  CLOUDS,
  CRON,
  STATE_FILE,
  checkLeaks,
  checkNoTempFiles,
  checkNoUncaught,
  checkOutcome,
  cloudsYaml,
  eventually,
  killWhenHanging,
  newUnit,
  settledUnit,
  tempFiles,
  waitIdle,
  type Hostile,
} from './support.js';
import { tally } from './tally.js';

const PRELOAD = pathToFileURL(path.join(import.meta.dirname, 'kill-at.mjs')).href;

type Kill = { readonly hang: string } | { readonly at: string };

/** Runs `event` and kills it at the point; returns the killed dispatch's result. */
async function killDuring(expect: ExpectStatic, h: Hostile, event: DispatchEvent, kill: Kill, env: Record<string, string> = {}): Promise<DispatchResult> {
  if ('hang' in kill) {
    h.u.failHost(kill.hang, 'hang');
    const running = h.dispatch(event, { env, timeoutMs: 60_000 });
    await killWhenHanging(h.u, kill.hang);
    const r = await running;
    h.u.clearFailures();
    expect(r.signal, `killed while ${kill.hang} hung`).toBe('SIGKILL');
    return r;
  }
  const mark = path.join(h.u.dir, 'kill-mark');
  rmSync(mark, { force: true });
  const r = await h.dispatch(event, { env: { ...env, NODE_OPTIONS: `--import=${PRELOAD}`, HOSTILE_KILL_AT: kill.at, HOSTILE_KILL_MARK: mark } });
  expect(existsSync(mark) && readFileSync(mark, 'utf8'), `the charm reached ${kill.at}`).toBe(kill.at);
  expect(r.code, 'the context runner reports the SIGKILL (128 + 9)').toBe(137);
  return r;
}

interface Files {
  readonly clouds: string | undefined;
  readonly cron: string | undefined;
  readonly script: string | undefined;
  readonly state: string | undefined;
}

function files(h: Hostile): Files {
  return { clouds: h.u.readHostFile(CLOUDS), cron: h.u.readHostFile(CRON), script: h.u.readHostFile(BUILD_SCRIPT), state: h.stateText() };
}

/**
 * Each file after the kill must be exactly the old or the new content; the state file must
 * parse and be the old text or a state that `isNewState` accepts. Torn files are recorded as
 * changed files.
 */
function checkOldOrNew(expect: ExpectStatic, what: string, old: Files, now: Files, next: Partial<Files>, isNewState: (s: Record<string, unknown>) => boolean = () => false): void {
  const problems: string[] = [];
  for (const key of ['clouds', 'cron', 'script'] as const) {
    const ok = now[key] === old[key] || (key in next && now[key] === next[key]);
    if (!ok) problems.push(`${what}: ${key} is neither the old nor the new content`);
  }
  if (now.state !== old.state) {
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(now.state ?? '') as Record<string, unknown>;
    } catch {
      problems.push(`${what}: ${STATE_FILE} does not parse`);
    }
    if (parsed && !isNewState(parsed)) problems.push(`${what}: ${STATE_FILE} is neither the old nor the new state`);
  }
  tally.changedFiles.push(...problems);
  expect.soft(problems).toEqual([]);
}

/** The end of every crash point: the next dispatch's outcome, no temp file, no leak. */
function finish(expect: ExpectStatic, h: Hostile, what: string, next: DispatchResult): void {
  tally.crashPoints++;
  expect.soft(checkOutcome(next, { code: 0 }, `${what}: the next dispatch`)).toEqual([]);
  expect.soft(checkNoTempFiles(h, what)).toEqual([]);
  expect.soft(checkNoUncaught(h, what)).toEqual([]);
  expect.soft(checkLeaks(h, what)).toEqual([]);
}

const stored = (s: Record<string, unknown>) => ((s.stored as Record<string, Record<string, unknown>> | undefined)?.['images'] ?? {}) as { images?: { noble?: { id?: string } } };

export function registerCrashPoints(): void {
  const rotated = cloudsYaml().replace(CANARY, `${CANARY}-rotated`);

  for (const [point, kill, tempLeft] of [
    ['with the clouds.yaml temp file complete, before the rename', { at: `rename:clouds.yaml` }, true],
    ['with the clouds.yaml temp file half-written', { at: `torn:clouds.yaml` }, true],
    ['right after clouds.yaml is renamed into place', { at: `renamed:clouds.yaml` }, false],
  ] as const) {
    it(`password rotation killed ${point}: clouds.yaml is old or new, never torn; the retry writes it`, async ({ expect }) => {
      const h = await settledUnit();
      const u = h.u;
      const old = files(h);
      u.setConfig({ 'openstack-clouds-yaml': rotated });
      await killDuring(expect, h, 'config-changed', kill);
      checkOldOrNew(expect, point, old, files(h), { clouds: rotated });
      if (tempLeft) expect(tempFiles(u.hostRoot), 'the kill left a temp file').toHaveLength(1);
      expect(files(h).state, 'nothing committed').toBe(old.state);

      const next = await h.dispatch('config-changed');
      expect(u.readHostFile(CLOUDS)).toBe(rotated);
      expect(u.unitStatus().message).toMatch(/^Serving image img-first /);
      expect(u.builds(), 'credentials alone rebuild nothing').toHaveLength(1);
      finish(expect, h, `rotation killed ${point}`, next);
    });
  }

  for (const [point, kill] of [
    ['with the new cron entry complete in its temp file, before the rename', { at: 'rename:build-runner-image' }],
    ['after the cron entry is written, while systemctl hangs (before the build starts)', { hang: 'systemctl' }],
  ] as const) {
    it(`schedule change killed ${point}: cron is old or new; the retry schedules AND starts the build it owes`, async ({ expect }) => {
      const h = await settledUnit();
      const u = h.u;
      const old = files(h);
      u.setConfig({ interval: 12 });
      await killDuring(expect, h, 'config-changed', kill);
      const newCron = old.cron!.replace(/\n(\d+) \*\/6 /, '\n$1 */12 ').replace('every 6 hour(s)', 'every 12 hour(s)');
      checkOldOrNew(expect, point, old, files(h), { cron: newCron });
      expect(u.builds()).toHaveLength(1);

      const next = await h.dispatch('config-changed');
      expect(u.readHostFile(CRON)).toBe(newCron);
      expect(newCron).toMatch(/^\d{1,2} \*\/12 \* \* \* root /m);
      await eventually('the build the schedule change owes', () => u.builds().length === 2);
      await waitIdle(u);
      finish(expect, h, `schedule change killed ${point}`, next);
    });
  }

  for (const [point, at] of [
    ['with the state temp file half-written', 'torn:.unit-state.json'],
    ['with the state temp file complete, before the rename', 'rename:.unit-state.json'],
    ['right after the state file is renamed into place', 'renamed:.unit-state.json'],
  ] as const) {
    it(`build_success killed during the state commit, ${point}: the state is old or new; the next hooks publish the new image`, async ({ expect }) => {
      const h = await settledUnit();
      const u = h.u;
      const old = files(h);
      const event = 'hooks/build_success';
      const env = { OPENSTACK_IMAGE_ID: 'img-second' };
      await killDuring(expect, h, event, { at }, env);
      const now = files(h);
      checkOldOrNew(expect, point, old, now, {}, (s) => stored(s).images?.noble?.id === 'img-second');
      expect(h.imageId(), 'relation data is committed only when the hook exits 0').toBe('img-first');

      // Juju runs config-changed whenever the agent starts; it repairs the relation data.
      const next = await h.dispatch('config-changed');
      expect(next.code).toBe(0);
      const again = at.startsWith('renamed') ? next : await h.dispatch(event, { env });
      expect(h.imageId()).toBe('img-second');
      expect(stored(JSON.parse(h.stateText()!)).images?.noble?.id).toBe('img-second');
      expect(u.unitStatus().message).toMatch(/^Serving image img-second /);
      finish(expect, h, `state commit killed ${point}`, again);
    });
  }

  it('install killed while pipx hangs: nothing half-done is taken for done; the retry installs', async ({ expect }) => {
    const h = await newUnit();
    const u = h.u;
    await killDuring(expect, h, 'install', { hang: 'pipx' });
    expect([u.readHostFile(CLOUDS), u.readHostFile(CRON), h.stateText()]).toEqual([undefined, undefined, undefined]);
    const next = await h.dispatch('install');
    await eventually('the first image', () => h.imageId());
    await waitIdle(u);
    expect(u.unitStatus().status).toBe('active');
    finish(expect, h, 'install killed while pipx hangs', next);
  });
}
