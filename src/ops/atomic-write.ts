// Crash-safe file writes: a reader (or the next hook after a SIGKILL) sees the old file or the
// new one, never a torn one. Owner and mode are set on the temp file before the rename, so the
// file never exists with the wrong permissions, even for an instant.
import { closeSync, fchownSync, fchmodSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface WriteOptions {
  readonly mode: number;
  /** Owner to give the file; ignored unless running as root (tests run unprivileged). */
  readonly uid?: number;
  readonly gid?: number;
}

const tempPrefix = (file: string) => `.${path.basename(file)}.tmp-`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files a killed writer left next to `file` (`.<name>.tmp-<pid>-<rand>` whose
 * process is gone), and anything else squatting on such a name: a directory goes with its
 * contents, a symlink is removed without following it. Best effort and never throws: one that
 * cannot be removed is left for the next time.
 */
export function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  const prefix = tempPrefix(file);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
    try {
      rmSync(path.join(dir, name), { recursive: true, force: true });
    } catch {
      // Left for the next time; it does not stop this write (its temp name is fresh).
    }
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions): void {
  removeStaleTemps(file);
  const tmp = path.join(path.dirname(file), `${tempPrefix(file)}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx', opts.mode);
    created = true;
    fchmodSync(fd, opts.mode); // openSync's mode is filtered by the umask
    if (opts.uid !== undefined && process.getuid?.() === 0) fchownSync(fd, opts.uid, opts.gid ?? opts.uid);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      // Only our own temp file: when openSync('wx') failed, something else holds the name.
      if (created) rmSync(tmp, { force: true });
    } catch {
      // The write's own error is the one to report; a stale temp is removed next time.
    }
    throw err;
  }
}
