// Reads the state files the charm and the build script write for the exporter, on every scrape.
// All are optional and small; whatever is wrong with one (missing fields aside) is reported as an
// error of that file and only its valid parts are used. Nothing here throws.
//
//   <dir>/unit.json          the charm: {"arch", "bases": [..], "leader", "interval_hours",
//                            "schedule_start", "images": {<base>: {"id", "created_at": ISO 8601}}}
//   <dir>/build-<base>.json  the build script, after each build of <base>: {"started", "succeeded",
//                            "failed", "consecutive_failures", "last_duration_seconds",
//                            "last_success_timestamp"}
//   <dir>/running.json       the build script, while a build runs: {"base", "started"}
//
// Files are opened without following a symlink or blocking on a FIFO (O_NOFOLLOW | O_NONBLOCK),
// must be regular files of at most MAX_STATE_FILE_BYTES, and must hold a JSON object.
import { closeSync, constants, fstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const MAX_STATE_FILE_BYTES = 64 * 1024;
/** A base name as it may appear in a file name: no '/', no leading dot. */
const BASE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BUILD_FILE = /^build-(.+)\.json$/;

const BUILD_FIELDS = ['started', 'succeeded', 'failed', 'consecutive_failures', 'last_duration_seconds', 'last_success_timestamp'] as const;
export type BuildField = (typeof BUILD_FIELDS)[number];
/** The valid fields of a build file; a missing or invalid one is absent. */
export type BuildStats = Partial<Record<BuildField, number>>;

export interface Image {
  readonly id?: string;
  /** created_at, in unix seconds. */
  readonly createdAt: number;
}

export interface UnitInfo {
  readonly arch?: string;
  /** undefined when unit.json gives no (valid) list: the bases are then those of the build files. */
  readonly bases?: readonly string[];
  readonly leader?: boolean;
  readonly intervalHours?: number;
  readonly scheduleStart?: number;
  readonly images: ReadonlyMap<string, Image>;
}

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

/** Collects the problems of one file; report() gives them as one reason, joined by "; ". */
class Problems {
  private reasons: string[] = [];
  add(reason: string) {
    this.reasons.push(reason);
  }
  report(file: string, errors: StateError[]) {
    if (this.reasons.length) errors.push({ file, reason: this.reasons.join('; ') });
  }
}

const present = (v: unknown) => v !== undefined && v !== null;
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A non-negative number field; absent (no problem) when missing or null. */
function numberField(obj: Record<string, unknown>, key: string, problems: Problems): number | undefined {
  const v = obj[key];
  if (!present(v)) return undefined;
  if (isNumber(v)) return v;
  problems.add(`${key} is not a non-negative number`);
  return undefined;
}

function readUnit(dir: string, errors: StateError[]): UnitInfo {
  const images = new Map<string, Image>();
  const r = readJsonFile(path.join(dir, 'unit.json'));
  if (r.kind === 'missing') return { images };
  if (r.kind === 'error') {
    errors.push({ file: 'unit.json', reason: r.reason });
    return { images };
  }
  const obj = r.value;
  const problems = new Problems();
  let arch: string | undefined;
  if (present(obj.arch)) {
    if (typeof obj.arch === 'string' && obj.arch.length > 0 && obj.arch.length <= 64) arch = obj.arch;
    else problems.add('arch is not a string of 1-64 characters');
  }
  let bases: string[] | undefined;
  if (present(obj.bases)) {
    if (Array.isArray(obj.bases)) {
      bases = [];
      for (const b of obj.bases) {
        if (typeof b === 'string' && BASE_NAME.test(b)) {
          if (!bases.includes(b)) bases.push(b);
        } else problems.add(`bases has an invalid base ${JSON.stringify(b)?.slice(0, 70)}`);
      }
    } else problems.add('bases is not a list');
  }
  let leader: boolean | undefined;
  if (present(obj.leader)) {
    if (typeof obj.leader === 'boolean') leader = obj.leader;
    else problems.add('leader is not a boolean');
  }
  const intervalHours = numberField(obj, 'interval_hours', problems);
  const scheduleStart = numberField(obj, 'schedule_start', problems);
  if (present(obj.images)) {
    if (typeof obj.images === 'object' && !Array.isArray(obj.images)) {
      for (const [base, image] of Object.entries(obj.images as Record<string, unknown>)) {
        if (!present(image)) continue;
        const createdAt = typeof image === 'object' && !Array.isArray(image) ? (image as Record<string, unknown>).created_at : undefined;
        const id = typeof image === 'object' ? (image as Record<string, unknown>).id : undefined;
        const ms = typeof createdAt === 'string' ? Date.parse(createdAt) : NaN;
        if (Number.isFinite(ms)) images.set(base, { createdAt: ms / 1000, ...(typeof id === 'string' ? { id } : {}) });
        else problems.add(`images.${base.slice(0, 64)} has no valid created_at`);
      }
    } else problems.add('images is not an object');
  }
  problems.report('unit.json', errors);
  return { arch, bases, leader, intervalHours, scheduleStart, images };
}

function readBuild(dir: string, base: string, errors: StateError[]): BuildStats | 'missing' | 'invalid' {
  const file = `build-${base}.json`;
  const r = readJsonFile(path.join(dir, file));
  if (r.kind === 'missing') return 'missing';
  if (r.kind === 'error') {
    errors.push({ file, reason: r.reason });
    return 'invalid';
  }
  const problems = new Problems();
  const stats: BuildStats = {};
  for (const field of BUILD_FIELDS) {
    const v = numberField(r.value, field, problems);
    if (v !== undefined) stats[field] = v;
  }
  problems.report(file, errors);
  return stats;
}

function readRunning(dir: string, errors: StateError[]): string | null | 'invalid' {
  const r = readJsonFile(path.join(dir, 'running.json'));
  if (r.kind === 'missing') return null;
  if (r.kind === 'error') {
    errors.push({ file: 'running.json', reason: r.reason });
    return 'invalid';
  }
  const base = r.value.base;
  if (typeof base === 'string' && BASE_NAME.test(base)) return base;
  errors.push({ file: 'running.json', reason: 'base is not a valid base name' });
  return 'invalid';
}

/** The bases that have a build file in the state dir, sorted. */
function basesOnDisk(dir: string, errors: StateError[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') errors.push({ file: '.', reason: `cannot list the state dir: ${describe(err)}` });
    return [];
  }
  const bases: string[] = [];
  for (const n of names) {
    const m = BUILD_FILE.exec(n);
    if (m && BASE_NAME.test(m[1]!)) bases.push(m[1]!);
  }
  return bases.sort();
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
  if (errors.length) return { unit: { images: new Map() }, bases: [], builds: new Map(), running: null, errors };
  const unit = readUnit(dir, errors);
  const running = readRunning(dir, errors);
  let bases: readonly string[];
  if (unit.bases) bases = unit.bases;
  else {
    const found = basesOnDisk(dir, errors);
    if (typeof running === 'string' && !found.includes(running)) found.push(running);
    bases = found;
  }
  const builds = new Map<string, BuildStats | 'missing' | 'invalid'>();
  for (const base of bases) builds.set(base, readBuild(dir, base, errors));
  return { unit, bases, builds, running, errors };
}
