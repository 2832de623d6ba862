// Reads the state files the charm, the build script and the copier write for the exporter, on every scrape.
// Their names, shapes and parsers are in src/shared/metrics-files.ts. All are optional and small;
// whatever is wrong with one (missing fields aside) is reported as an error of that file and only
// its valid parts are used. Nothing here throws.
//
// Files are opened without following a symlink or blocking on a FIFO (O_NOFOLLOW | O_NONBLOCK),
// must be regular files of at most MAX_STATE_FILE_BYTES, and must hold a JSON object.
import { closeSync, constants, fstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  BASE_NAME,
  BUILD_FILE_NAME,
  COPIES_FILE_NAME,
  COPY_CLOUD_NAME,
  GONE_FILE_NAME,
  MAX_STATE_FILE_BYTES,
  RUNNING_FILE,
  UNIT_FILE,
  buildFileName,
  copiesFileName,
  goneFileName,
  parseBuildFile,
  parseCopiesFile,
  parseGoneFile,
  parseRunningFile,
  parseUnitFile,
  type BuildStats,
  type CopyStats,
  type Parsed,
  type UnitInfo,
} from '../shared/metrics-files.js';

export { MAX_STATE_FILE_BYTES } from '../shared/metrics-files.js';
export type { BuildField, BuildStats, CopyField, CopyStats, Image, UnitInfo } from '../shared/metrics-files.js';

export interface StateError {
  /** The file's name in the state dir ('.' for the directory itself). */
  readonly file: string;
  readonly reason: string;
}

export interface State {
  readonly unit: UnitInfo;
  /** The bases to export: unit.json's, else those with a build file (or running). */
  readonly bases: readonly string[];
  /** Per base: its build file's valid fields, 'missing' (no file yet) or 'invalid' (unreadable, not a JSON object). */
  readonly builds: ReadonlyMap<string, BuildStats | 'missing' | 'invalid'>;
  /** The base being built; null when none; 'invalid' when running.json exists but says nothing usable. */
  readonly running: string | null | 'invalid';
  /** Per consumer cloud with a copies or gone file (sorted): their valid fields, or 'invalid' (none readable as a JSON object). */
  readonly copies: ReadonlyMap<string, CopyStats | 'invalid'>;
  readonly errors: readonly StateError[];
}

type ReadResult = { kind: 'missing' } | { kind: 'error'; reason: string } | { kind: 'ok'; value: Record<string, unknown> };

const buffer = Buffer.allocUnsafe(MAX_STATE_FILE_BYTES + 1);

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ELOOP') return 'is a symlink';
  return e?.code ?? (e instanceof Error ? e.message : String(err));
}

/** A small regular file holding one JSON object. */
function readJsonFile(file: string): ReadResult {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'error', reason: `cannot open: ${describe(err)}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: 'error', reason: st.isDirectory() ? 'is a directory' : 'is not a regular file' };
    if (st.size > MAX_STATE_FILE_BYTES) return { kind: 'error', reason: `is larger than ${MAX_STATE_FILE_BYTES} bytes` };
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_STATE_FILE_BYTES) return { kind: 'error', reason: `is larger than ${MAX_STATE_FILE_BYTES} bytes` };
    }
    let value: unknown;
    try {
      value = JSON.parse(buffer.toString('utf8', 0, length));
    } catch (err) {
      return { kind: 'error', reason: `is not JSON: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'error', reason: 'is not a JSON object' };
    return { kind: 'ok', value: value as Record<string, unknown> };
  } catch (err) {
    return { kind: 'error', reason: `cannot read: ${describe(err)}` };
  } finally {
    try {
      closeSync(fd);
    } catch {
      // nothing to do
    }
  }
}

/** A state file parsed with its parser: its valid parts, its problems as one error; undefined when missing or unreadable. */
function readParsed<T>(dir: string, file: string, parse: (obj: Record<string, unknown>) => Parsed<T>, errors: StateError[]): Parsed<T> | 'missing' | 'invalid' {
  const r = readJsonFile(path.join(dir, file));
  if (r.kind === 'missing') return 'missing';
  if (r.kind === 'error') {
    errors.push({ file, reason: r.reason });
    return 'invalid';
  }
  const parsed = parse(r.value);
  if (parsed.problems.length) errors.push({ file, reason: parsed.problems.join('; ') });
  return parsed;
}

function readUnit(dir: string, errors: StateError[]): UnitInfo {
  const r = readParsed(dir, UNIT_FILE, parseUnitFile, errors);
  return typeof r === 'string' ? { images: new Map() } : r.value;
}

function readBuild(dir: string, base: string, errors: StateError[]): BuildStats | 'missing' | 'invalid' {
  const r = readParsed(dir, buildFileName(base), parseBuildFile, errors);
  return typeof r === 'string' ? r : r.value;
}

function readRunning(dir: string, errors: StateError[]): string | null | 'invalid' {
  const r = readParsed(dir, RUNNING_FILE, parseRunningFile, errors);
  if (r === 'missing') return null;
  return r === 'invalid' ? 'invalid' : (r.value ?? 'invalid');
}

/** The file names in the state dir (empty when it cannot be listed: that is an error, unless it is missing). */
function listDir(dir: string, errors: StateError[]): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') errors.push({ file: '.', reason: `cannot list the state dir: ${describe(err)}` });
    return [];
  }
}

/** What the files of one kind (`pattern`, group 1 checked by `valid`) are for, sorted. */
function keysOnDisk(names: readonly string[], pattern: RegExp, valid: RegExp): string[] {
  const keys: string[] = [];
  for (const n of names) {
    const m = pattern.exec(n);
    if (m && valid.test(m[1]!)) keys.push(m[1]!);
  }
  return keys.sort();
}

/**
 * Per consumer cloud: the copier's copies file and the charm's gone file, merged (each has its own
 * writer). A cloud whose files are all unreadable is 'invalid'; one unreadable file of two leaves
 * the other's fields.
 */
function readCopies(dir: string, names: readonly string[], errors: StateError[]): Map<string, CopyStats | 'invalid'> {
  const copies = new Map<string, CopyStats | 'invalid'>();
  const kinds = [
    { pattern: COPIES_FILE_NAME, file: copiesFileName, parse: parseCopiesFile },
    { pattern: GONE_FILE_NAME, file: goneFileName, parse: parseGoneFile },
  ];
  const clouds = [...new Set(kinds.flatMap((k) => keysOnDisk(names, k.pattern, COPY_CLOUD_NAME)))].sort();
  for (const cloud of clouds) {
    const read = kinds.map((k) => readParsed(dir, k.file(cloud), k.parse, errors)).filter((r) => r !== 'missing');
    const valid = read.filter((r) => r !== 'invalid');
    if (read.length) copies.set(cloud, valid.length ? Object.assign({}, ...valid.map((r) => r.value)) : 'invalid');
  }
  return copies;
}

/** Everything the state dir says now. */
export function readState(dir: string): State {
  const errors: StateError[] = [];
  try {
    if (!statSync(dir).isDirectory()) errors.push({ file: '.', reason: 'the state dir is not a directory' });
  } catch (err) {
    // Missing: nothing written yet (every configured base then has zero counters).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') errors.push({ file: '.', reason: `cannot stat the state dir: ${describe(err)}` });
  }
  if (errors.length) return { unit: { images: new Map() }, bases: [], builds: new Map(), running: null, copies: new Map(), errors };
  const unit = readUnit(dir, errors);
  const running = readRunning(dir, errors);
  const names = listDir(dir, errors);
  let bases: readonly string[];
  if (unit.bases) bases = unit.bases;
  else {
    const found = keysOnDisk(names, BUILD_FILE_NAME, BASE_NAME);
    if (typeof running === 'string' && !found.includes(running)) found.push(running);
    bases = found;
  }
  const builds = new Map<string, BuildStats | 'missing' | 'invalid'>();
  for (const base of bases) builds.set(base, readBuild(dir, base, errors));
  return { unit, bases, builds, running, copies: readCopies(dir, names, errors), errors };
}
