// Atomic writes: new content and mode in one rename, and no temp file left by a killed writer
// survives the next write (the unit state file and clouds.yaml both go through here).
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/ops/index.js';

describe('writeFileAtomic', () => {
  it('writes the content with the mode, whatever the umask', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'aw-')), 'secret.yaml');
    writeFileAtomic(file, 'a: b\n', { mode: 0o600 });
    expect(readFileSync(file, 'utf8')).toBe('a: b\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('removes temp files of writers that are gone, and keeps a live writer’s', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aw-'));
    const file = path.join(dir, '.unit-state.json');
    const stale = path.join(dir, '..unit-state.json.tmp-2147483646-abcdef');
    const live = path.join(dir, `..unit-state.json.tmp-${process.pid}-ghijkl`);
    writeFileSync(stale, '{"torn');
    writeFileSync(live, '{"in progress');
    writeFileAtomic(file, '{}', { mode: 0o600 });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('{}');
  });
});
