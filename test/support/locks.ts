// Whether a process is blocked waiting for an flock, as the kernel reports it: a test that
// means "B waits for the lock A holds" waits until B is seen waiting, instead of sleeping
// and hoping B got that far.
import { readFileSync, statSync } from 'node:fs';

/** Whether some process waits for the flock on `file` (/proc/locks lists blocked waiters with "->"). */
export function waitsForLock(file: string): boolean {
  const inode = `:${statSync(file).ino}`;
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => line.includes(' -> FLOCK ') && line.split(/\s+/).some((field) => field.endsWith(inode)));
}
