// The unit state file loader: a state file that cannot be used is moved aside (kept for
// inspection, mode 0600), reported without its content, and the unit carries on from empty
// state, so a corrupt file can never wedge every hook. A valid file loads unchanged.
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UNIT_STATE_FILE, UnitStateFile, type UnitState } from '../../src/ops/storage.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function charmDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'unit-state-'));
  dirs.push(d);
  return d;
}

const EMPTY: UnitState = { version: 1, nextSeq: 1, deferred: [], stored: {} };
const CORRUPT_NAME = /^\.unit-state\.json\.corrupt-\d{8}T\d{6}Z$/;
const asideFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith(`${UNIT_STATE_FILE}.corrupt-`));

/** Loads the state in `dir`, collecting what is reported. */
function load(dir: string): { state: UnitState; reports: string[] } {
  const reports: string[] = [];
  const state = new UnitStateFile(dir).load((m) => reports.push(m));
  return { state, reports };
}

const valid = {
  version: 1,
  nextSeq: 4,
  deferred: [{ seq: 3, event: 'db_relation_joined', observer: 'RecorderCharm.onDb', snapshot: { endpoint: 'db', relationId: 4, app: 'pg', unit: 'pg/0' } }],
  stored: { recorder: { seen: ['install'], configCount: 2 } },
  lastUnitStatus: { status: 'active', message: 'greeting hello' },
};

describe('UnitStateFile.load', () => {
  it('loads a valid state file unchanged and reports nothing', () => {
    const dir = charmDir();
    writeFileSync(path.join(dir, UNIT_STATE_FILE), JSON.stringify(valid), { mode: 0o600 });
    const { state, reports } = load(dir);
    expect(state).toEqual(valid);
    expect(reports).toEqual([]);
    expect(asideFiles(dir)).toEqual([]);
  });

  it('treats a missing file as empty state, without a report', () => {
    const { state, reports } = load(charmDir());
    expect(state).toEqual(EMPTY);
    expect(reports).toEqual([]);
  });

  const badContents: [string, string, RegExp][] = [
    ['garbage text', 'not json at all {{{ secret-token-123', /not valid JSON/],
    ['an empty file', '', /not valid JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['JSON null', 'null', /not a JSON object/],
    ['an unknown version', '{"version": 2, "stored": {"x": {"token": "secret-token-123"}}}', /version is unknown/],
    ['a missing version', JSON.stringify({ ...valid, version: undefined }), /version is unknown/],
    ['deferred not an array', JSON.stringify({ ...valid, deferred: {} }), /deferred is not a list of notices/],
    ['a notice with a string seq', JSON.stringify({ ...valid, deferred: [{ ...valid.deferred[0], seq: '3' }] }), /deferred/],
    ['a notice without an observer', JSON.stringify({ ...valid, deferred: [{ seq: 3, event: 'x', snapshot: {} }] }), /deferred/],
    ['a notice with a null snapshot', JSON.stringify({ ...valid, deferred: [{ ...valid.deferred[0], snapshot: null }] }), /deferred/],
    ['a notice that is a string', JSON.stringify({ ...valid, deferred: ['config_changed'] }), /deferred/],
    ['nextSeq zero', JSON.stringify({ ...valid, nextSeq: 0 }), /nextSeq is not a positive integer/],
    ['nextSeq fractional', JSON.stringify({ ...valid, nextSeq: 1.5 }), /nextSeq/],
    ['nextSeq a string', JSON.stringify({ ...valid, nextSeq: '4' }), /nextSeq/],
    ['stored an array', JSON.stringify({ ...valid, stored: [] }), /stored is not an object of objects/],
    ['a stored bag that is a string', JSON.stringify({ ...valid, stored: { recorder: 'secret-token-123' } }), /stored/],
    ['lastUnitStatus a string', JSON.stringify({ ...valid, lastUnitStatus: 'active' }), /lastUnitStatus is not a status/],
    ['lastUnitStatus with an unknown status', JSON.stringify({ ...valid, lastUnitStatus: { status: 'error', message: '' } }), /lastUnitStatus/],
    ['lastUnitStatus without a message', JSON.stringify({ ...valid, lastUnitStatus: { status: 'active' } }), /lastUnitStatus/],
  ];

  it.each(badContents)('moves aside %s, reports it without the content, and returns empty state', (_what, content, reason) => {
    const dir = charmDir();
    const file = path.join(dir, UNIT_STATE_FILE);
    writeFileSync(file, content, { mode: 0o600 });
    const { state, reports } = load(dir);
    expect(state).toEqual(EMPTY);
    const [aside, ...more] = asideFiles(dir);
    expect(more).toEqual([]);
    expect(aside).toMatch(CORRUPT_NAME);
    expect(readFileSync(path.join(dir, aside!), 'utf8')).toBe(content);
    expect(lstatSync(path.join(dir, aside!)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).not.toContain(UNIT_STATE_FILE);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(reason);
    expect(reports[0]).toContain(`moved it aside to ${path.join(dir, aside!)}`);
    expect(reports[0]).toContain('continues from empty state');
    expect(reports[0]).not.toContain('secret-token-123');
  });

  it('keeps a moved-aside file readable by the owner only, even if it was world-readable', () => {
    const dir = charmDir();
    writeFileSync(path.join(dir, UNIT_STATE_FILE), '{"stored": "secret"');
    chmodSync(path.join(dir, UNIT_STATE_FILE), 0o644);
    load(dir);
    expect(lstatSync(path.join(dir, asideFiles(dir)[0]!)).mode & 0o777).toBe(0o600);
  });

  it('moves aside a directory squatting on the name, with what was in it', () => {
    const dir = charmDir();
    mkdirSync(path.join(dir, UNIT_STATE_FILE));
    writeFileSync(path.join(dir, UNIT_STATE_FILE, 'inside'), 'x');
    const { state, reports } = load(dir);
    expect(state).toEqual(EMPTY);
    const [aside] = asideFiles(dir);
    expect(aside).toMatch(CORRUPT_NAME);
    expect(readFileSync(path.join(dir, aside!, 'inside'), 'utf8')).toBe('x');
    expect(reports[0]).toMatch(/it is a directory/);
  });

  it('does not follow a symlink at the path: the link itself is moved aside, its target untouched', () => {
    const dir = charmDir();
    const target = path.join(dir, 'elsewhere.json');
    writeFileSync(target, JSON.stringify(valid));
    symlinkSync(target, path.join(dir, UNIT_STATE_FILE));
    const { state, reports } = load(dir);
    expect(state).toEqual(EMPTY);
    const [aside] = asideFiles(dir);
    expect(lstatSync(path.join(dir, aside!)).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(JSON.stringify(valid));
    expect(reports[0]).toMatch(/it is a symbolic link/);
  });

  it('moves aside a dangling symlink', () => {
    const dir = charmDir();
    symlinkSync(path.join(dir, 'nowhere'), path.join(dir, UNIT_STATE_FILE));
    const { state, reports } = load(dir);
    expect(state).toEqual(EMPTY);
    expect(asideFiles(dir)).toHaveLength(1);
    expect(reports[0]).toMatch(/symbolic link/);
  });

  it('does not block on a FIFO at the path, and moves it aside', () => {
    const dir = charmDir();
    execFileSync('mkfifo', [path.join(dir, UNIT_STATE_FILE)]);
    const { state, reports } = load(dir);
    expect(state).toEqual(EMPTY);
    const [aside] = asideFiles(dir);
    expect(lstatSync(path.join(dir, aside!)).isFIFO()).toBe(true);
    expect(reports[0]).toMatch(/it is a FIFO/);
  });

  it.skipIf(process.getuid?.() === 0)('moves aside a file it may not read', () => {
    const dir = charmDir();
    writeFileSync(path.join(dir, UNIT_STATE_FILE), JSON.stringify(valid), { mode: 0o000 });
    const { state, reports } = load(dir);
    expect(state).toEqual(EMPTY);
    expect(asideFiles(dir)).toHaveLength(1);
    expect(reports[0]).toMatch(/cannot be read \(EACCES\)/);
  });

  it('never overwrites an earlier moved-aside file', () => {
    const dir = charmDir();
    const file = path.join(dir, UNIT_STATE_FILE);
    for (const content of ['first', 'second', 'third']) {
      writeFileSync(file, content);
      load(dir);
    }
    const contents = asideFiles(dir).map((n) => readFileSync(path.join(dir, n), 'utf8'));
    expect(contents.sort()).toEqual(['first', 'second', 'third']);
  });

  it('writes a fresh valid file on the next save, which then loads cleanly', () => {
    const dir = charmDir();
    writeFileSync(path.join(dir, UNIT_STATE_FILE), '{"version": 1, "nextSeq": -1');
    const store = new UnitStateFile(dir);
    const state = store.load(() => {});
    state.stored.recorder = { seen: ['after'] };
    expect(store.save(state)).toBe(true);
    const { state: again, reports } = load(dir);
    expect(reports).toEqual([]);
    expect(again.stored).toEqual({ recorder: { seen: ['after'] } });
  });

  it('does not throw when nobody listens for the report', () => {
    const dir = charmDir();
    writeFileSync(path.join(dir, UNIT_STATE_FILE), '<<<');
    expect(new UnitStateFile(dir).load()).toEqual(EMPTY);
    expect(asideFiles(dir)).toHaveLength(1);
  });
});
