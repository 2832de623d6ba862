// Anything squatting on a temp-file name (a directory, a symlink) must not make every later
// atomic write of that file fail: removeStaleTemps removes it, without following links, and
// never throws.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeStaleTemps, writeFileAtomic } from '../../src/ops/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'aw-squat-'));
  dirs.push(d);
  return d;
}

describe('removeStaleTemps with squatters on temp names', () => {
  it('removes a directory named like a dead writer’s temp file, so the next write succeeds', () => {
    const dir = tempDir();
    const file = path.join(dir, '.unit-state.json');
    const squat = path.join(dir, '..unit-state.json.tmp-2147483646-abcdef');
    mkdirSync(path.join(squat, 'nested'), { recursive: true });
    writeFileSync(path.join(squat, 'nested', 'f'), 'x');
    writeFileAtomic(file, '{"version":1}', { mode: 0o600 });
    expect(readFileSync(file, 'utf8')).toBe('{"version":1}');
    expect(existsSync(squat)).toBe(false);
    // And again: nothing left over that trips a later write.
    writeFileAtomic(file, '{"version":1,"n":2}', { mode: 0o600 });
    expect(readFileSync(file, 'utf8')).toBe('{"version":1,"n":2}');
  });

  it('removes a directory with a name that has no pid at all', () => {
    const dir = tempDir();
    const file = path.join(dir, 'clouds.yaml');
    const squat = path.join(dir, '.clouds.yaml.tmp-');
    mkdirSync(squat);
    expect(() => removeStaleTemps(file)).not.toThrow();
    expect(existsSync(squat)).toBe(false);
  });

  it('removes a symlink on a temp name without following it (the target and its contents stay)', () => {
    const dir = tempDir();
    const target = path.join(dir, 'precious');
    mkdirSync(target);
    writeFileSync(path.join(target, 'keep'), 'keep me');
    const link = path.join(dir, '.clouds.yaml.tmp-2147483646-zzzzzz');
    symlinkSync(target, link);
    removeStaleTemps(path.join(dir, 'clouds.yaml'));
    expect(() => lstatSync(link)).toThrow();
    expect(readFileSync(path.join(target, 'keep'), 'utf8')).toBe('keep me');
  });

  it('never throws, even when the directory cannot be listed', () => {
    expect(() => removeStaleTemps(path.join(tempDir(), 'missing-dir', 'file'))).not.toThrow();
  });

  it('keeps a squatting directory named after a live process, and the write still succeeds', () => {
    const dir = tempDir();
    const file = path.join(dir, 'clouds.yaml');
    const live = path.join(dir, `.clouds.yaml.tmp-${process.pid}-live00`);
    mkdirSync(live);
    writeFileAtomic(file, 'a: b\n', { mode: 0o600 });
    expect(readFileSync(file, 'utf8')).toBe('a: b\n');
    expect(existsSync(live)).toBe(true);
  });
});
