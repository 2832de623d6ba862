// The unit's local state file (<charm_dir>/.unit-state.json, mode 0600): deferred events and
// stored state, as ops keeps in .unit-state.db. Loaded at start, written at the end of a
// successful dispatch only, and only when something changed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import type { Status } from './status.js';

export const UNIT_STATE_FILE = '.unit-state.json';

export interface Notice {
  readonly seq: number;
  readonly event: string;
  /** The observer (handler name) that deferred it; only it sees the re-emitted event. */
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

export class UnitStateFile {
  readonly file: string;
  private savedText: string | undefined;

  constructor(charmDir: string) {
    this.file = path.join(charmDir, UNIT_STATE_FILE);
  }

  load(): UnitState {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty();
      throw err;
    }
    this.savedText = text;
    const parsed = JSON.parse(text) as UnitState;
    if (parsed?.version !== 1) throw new Error(`${this.file}: unknown unit state version ${JSON.stringify(parsed?.version)}`);
    return parsed;
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
