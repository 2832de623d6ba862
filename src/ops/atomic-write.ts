// Crash-safe file writes: a reader (or the next hook after a SIGKILL) sees the old file or the
// new one, never a torn one. Owner and mode are set on the temp file before the rename, so the
// file never exists with the wrong permissions, even for an instant.
import { closeSync, fchownSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface WriteOptions {
  readonly mode: number;
  /** Owner to give the file; ignored unless running as root (tests run unprivileged). */
  readonly uid?: number;
  readonly gid?: number;
}

export function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', opts.mode);
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
    rmSync(tmp, { force: true });
    throw err;
  }
}
