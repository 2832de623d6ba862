// A corrupt unit state file must not wedge the unit. Through the real `dispatch` executable
// with the stand-in hook tools: the file is moved aside, juju-log gets an ERROR naming where it
// went, and the hook (or action) runs from empty state and exits 0 — stop and remove included.
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRecorderCharmDir } from '../support/charm-dir.js';
import { charmUnits } from '../support/charm-units.js';
import type { DispatchResult, SimUnit } from '../support/juju.js';

const newUnit = charmUnits({ beforeAll, afterAll }, buildRecorderCharmDir);

const config = { 'defer-config-changed': false, 'fail-on': '', greeting: 'hello', count: 1 };
function unit(): { u: SimUnit; charmDir: string; stateFile: string } {
  const u = newUnit({ config });
  return { u, charmDir: u.charmDir, stateFile: path.join(u.charmDir, '.unit-state.json') };
}

const GARBAGE = '{"version": 1, "stored": {"recorder": {"token": "secret-token-456"}}, \u0000 garbage';
const asideFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.unit-state.json.corrupt-'));
const seen = (file: string): string[] => JSON.parse(readFileSync(file, 'utf8')).stored.recorder.seen;

/** The single ERROR juju-log message of a run, checked to name the moved-aside file. */
function recoveryError(r: DispatchResult, charmDir: string): string {
  const errors = r.logs.filter((l) => l.level === 'ERROR');
  expect(errors).toHaveLength(1);
  const [aside] = asideFiles(charmDir);
  expect(aside).toMatch(/^\.unit-state\.json\.corrupt-\d{8}T\d{6}Z$/);
  expect(errors[0]!.message).toBe(
    `unit state file ${path.join(charmDir, '.unit-state.json')} is unusable (it is not valid JSON); ` +
      `moved it aside to ${path.join(charmDir, aside!)}; the unit continues from empty state: deferred events and stored state are lost`,
  );
  return errors[0]!.message;
}

describe('dispatch with a corrupt unit state file', () => {
  it('runs the hook from empty state, logs an ERROR naming the moved-aside file, and keeps the original bytes', async () => {
    const { u, charmDir, stateFile } = unit();
    writeFileSync(stateFile, GARBAGE, { mode: 0o600 });
    const r = await u.dispatch('install');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    // The recorder's handler ran, from empty stored state, and the new state was committed.
    expect(seen(stateFile)).toEqual(['install', 'ping:from-install', 'install-after-ping']);
    const message = recoveryError(r, charmDir);
    expect(message).not.toContain('secret-token-456');
    const aside = path.join(charmDir, asideFiles(charmDir)[0]!);
    expect(readFileSync(aside, 'utf8')).toBe(GARBAGE);
    expect(lstatSync(aside).mode & 0o777).toBe(0o600);
    expect(lstatSync(stateFile).mode & 0o777).toBe(0o600);
    // The next hook sees a healthy file: no new report, nothing more moved aside.
    const next = await u.dispatch('update-status');
    expect(next.code).toBe(0);
    expect(next.logs.filter((l) => l.level === 'ERROR')).toEqual([]);
    expect(asideFiles(charmDir)).toHaveLength(1);
    expect(seen(stateFile).at(-1)).toBe('update_status');
  });

  it('runs an action instead of failing it', async () => {
    const { u, charmDir, stateFile } = unit();
    writeFileSync(stateFile, GARBAGE, { mode: 0o600 });
    const r = await u.dispatch({ action: 'set-results', params: { results: JSON.stringify({ id: 'i-9' }) } });
    expect(r.code).toBe(0);
    expect(r.actionFailed).toBeUndefined();
    expect(r.actionResults).toEqual({ id: 'i-9' });
    recoveryError(r, charmDir);
  });

  it.each(['stop', 'remove'])('lets %s exit 0', async (hook) => {
    const { u, charmDir, stateFile } = unit();
    writeFileSync(stateFile, GARBAGE, { mode: 0o600 });
    const r = await u.dispatch(hook);
    expect(r.code).toBe(0);
    recoveryError(r, charmDir);
    expect(seen(stateFile)).toEqual([hook]);
  });

  it('moves aside a wrong-shaped file and a directory squatting on the name', async () => {
    const { u, charmDir, stateFile } = unit();
    writeFileSync(stateFile, JSON.stringify({ version: 1, nextSeq: 1, deferred: 'config_changed', stored: {} }), { mode: 0o600 });
    const shaped = await u.dispatch('stop');
    expect(shaped.code).toBe(0);
    expect(shaped.logs.find((l) => l.level === 'ERROR')?.message).toMatch(/deferred is not a list of notices.*moved it aside to .*\.unit-state\.json\.corrupt-/);

    rmSync(stateFile);
    mkdirSync(stateFile);
    const squatted = await u.dispatch('remove');
    expect(squatted.code).toBe(0);
    expect(squatted.logs.find((l) => l.level === 'ERROR')?.message).toMatch(/it is a directory/);
    expect(seen(stateFile)).toEqual(['remove']);
    expect(asideFiles(charmDir)).toHaveLength(2);
  });
});
