// The unit's local state file (<charm_dir>/.unit-state.json, mode 0600): deferred events and
// stored state, as ops keeps in .unit-state.db. Loaded at start, written at the end of a
// successful dispatch only, and only when something changed.
//
// A state file that cannot be used (not JSON, wrong shape, unknown version, a directory, a
// symlink or FIFO squatting on the name, unreadable) must not wedge the unit: every hook,
// stop and remove included, would fail forever. It is moved aside to
// `.unit-state.json.corrupt-<UTC timestamp>` (deleted if it cannot be moved), reported, and
// the dispatch goes on from empty state.
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { isStatusName } from './hookcmds.js';
import type { Status } from './status.js';

export const UNIT_STATE_FILE = '.unit-state.json';

export interface Notice {
  readonly seq: number;
  readonly event: string;
  /**
   * The key of the observer that deferred it, `<owner handle>/<method>`; only it sees the
   * re-emitted event. Files written before owners had handles hold the bare method name.
   */
  readonly observer: string;
  readonly snapshot: Readonly<Record<string, unknown>>;
}

export interface UnitState {
  version: 1;
  nextSeq: number;
  deferred: Notice[];
  stored: Record<string, Record<string, unknown>>;
  lastUnitStatus?: Status;
}

const empty = (): UnitState => ({ version: 1, nextSeq: 1, deferred: [], stored: {} });


const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const isNotice = (v: unknown): v is Notice =>
  isObject(v) && typeof v.seq === 'number' && Number.isFinite(v.seq) && typeof v.event === 'string' && typeof v.observer === 'string' && isObject(v.snapshot);

/**
 * Why a parsed state file is unusable, or undefined when it is a valid UnitState. The reason
 * names fields only, never values: the file can hold the charm's stored data.
 */
function unitStateProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'it is not a JSON object';
  if (v.version !== 1) return 'its version is unknown (this charm reads version 1)';
  if (typeof v.nextSeq !== 'number' || !Number.isSafeInteger(v.nextSeq) || v.nextSeq < 1) return 'nextSeq is not a positive integer';
  if (!Array.isArray(v.deferred) || !v.deferred.every(isNotice)) return 'deferred is not a list of notices (seq, event, observer, snapshot)';
  if (!isObject(v.stored) || !Object.values(v.stored).every(isObject)) return 'stored is not an object of objects';
  const s = v.lastUnitStatus;
  if (s !== undefined && !(isObject(s) && typeof s.status === 'string' && isStatusName(s.status) && typeof s.message === 'string')) {
    return 'lastUnitStatus is not a status (status, message)';
  }
  return undefined;
}

/** 2026-11-29T14:22:33.123Z → 20261129T142233Z */
const utcStamp = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');

function describeNonRegular(file: string): string {
  try {
    const st = lstatSync(file);
    if (st.isSymbolicLink()) return 'it is a symbolic link';
    if (st.isDirectory()) return 'it is a directory';
    if (st.isFIFO()) return 'it is a FIFO';
    if (st.isSocket()) return 'it is a socket';
    if (st.isCharacterDevice() || st.isBlockDevice()) return 'it is a device';
  } catch {
    // Described by the caller's error code instead.
  }
  return 'it is not a regular file';
}

const errCode = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);

export class UnitStateFile {
  readonly file: string;
  private savedText: string | undefined;

  constructor(charmDir: string) {
    this.file = path.join(charmDir, UNIT_STATE_FILE);
  }

  /**
   * Reads the state; a missing file is empty state. An unusable one is moved aside (or deleted)
   * and `reportCorrupt` is told what happened; the result is then empty state. Never throws.
   */
  load(reportCorrupt?: (message: string) => void): UnitState {
    let fd: number | undefined;
    let problem: string;
    try {
      try {
        // No following a symlink, no blocking on a FIFO; only a regular file is read.
        fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return empty();
        throw err;
      }
      const st = fstatSync(fd);
      if (!st.isFile()) {
        problem = describeNonRegular(this.file);
      } else {
        const text = readFileSync(fd, 'utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          // JSON.parse's message quotes the content: not repeated.
        }
        const shape = parsed === undefined ? 'it is not valid JSON' : unitStateProblem(parsed);
        if (shape === undefined) {
          this.savedText = text;
          return parsed as UnitState;
        }
        problem = shape;
        // Kept for inspection by the owner only: it can hold stored data.
        if (st.mode & 0o077) {
          try {
            fchmodSync(fd, st.mode & 0o700);
          } catch {
            // Best effort.
          }
        }
      }
    } catch (err) {
      const code = errCode(err);
      problem = code === 'ELOOP' || code === 'EISDIR' || code === 'ENXIO' ? describeNonRegular(this.file) : `it cannot be read (${code})`;
    } finally {
      if (fd !== undefined) {
        try {
          closeSync(fd);
        } catch {
          // Nothing to do.
        }
      }
    }
    this.savedText = undefined;
    const report = this.setAside(problem);
    reportCorrupt?.(report);
    return empty();
  }

  /** Moves the unusable file aside (deletes it if it cannot be moved); returns what was done. */
  private setAside(problem: string): string {
    const head = `unit state file ${this.file} is unusable (${problem})`;
    const tail = 'the unit continues from empty state: deferred events and stored state are lost';
    const base = `${this.file}.corrupt-${utcStamp(new Date())}`;
    let aside = base;
    for (let i = 1; exists(aside); i++) aside = `${base}-${i}`;
    try {
      renameSync(this.file, aside);
      return `${head}; moved it aside to ${aside}; ${tail}`;
    } catch (renameErr) {
      try {
        rmSync(this.file, { recursive: true, force: true });
        return `${head}; could not move it aside (${errCode(renameErr)}), so deleted it; ${tail}`;
      } catch (rmErr) {
        return `${head}; could neither move it aside (${errCode(renameErr)}) nor delete it (${errCode(rmErr)}); ${tail}`;
      }
    }
  }

  /** Writes the state if it differs from what is on disk. */
  save(state: UnitState): boolean {
    const text = JSON.stringify(state);
    if (text === this.savedText) return false;
    writeFileAtomic(this.file, text, { mode: 0o600 });
    this.savedText = text;
    return true;
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
