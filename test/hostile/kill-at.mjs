// Test-only preload for the hostile suite's crash points; nothing in src/ knows about it. The
// suite starts a dispatch with NODE_OPTIONS=--import=<this file> and
// HOSTILE_KILL_AT=<phase>:<file name>; the charm then SIGKILLs itself at that point of its
// atomic write (src/ops/atomic-write.ts) of the file with that base name:
//   torn:<name>     half of the temp file written (and synced), the rest never
//   rename:<name>   the temp file complete and synced, before the rename
//   renamed:<name>  right after the rename, before anything else (e.g. the process exit)
// Before dying it writes the spec to HOSTILE_KILL_MARK, so the test knows the point was reached.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';

const spec = process.env.HOSTILE_KILL_AT;
const mark = process.env.HOSTILE_KILL_MARK;
// Nothing the charm starts (builds, host programs) inherits the preload.
delete process.env.NODE_OPTIONS;
delete process.env.HOSTILE_KILL_AT;
delete process.env.HOSTILE_KILL_MARK;

if (spec) {
  const [phase, name] = spec.split(/:(.*)/s);
  const die = () => {
    if (mark) fs.writeFileSync(mark, spec);
    process.kill(process.pid, 'SIGKILL');
  };
  const isTemp = (p) => typeof p === 'string' && path.basename(p).startsWith(`.${name}.tmp-`);
  const tempFds = new Set();
  const { openSync, writeSync, renameSync } = fs;

  fs.openSync = function (p, ...rest) {
    const fd = openSync.call(this, p, ...rest);
    if (isTemp(p)) tempFds.add(fd);
    return fd;
  };
  fs.writeSync = function (fd, buffer, offset, length, ...rest) {
    if (phase === 'torn' && tempFds.has(fd) && typeof length === 'number' && length > 1) {
      writeSync.call(this, fd, buffer, offset, Math.floor(length / 2));
      fs.fsyncSync(fd);
      die();
    }
    return writeSync.call(this, fd, buffer, offset, length, ...rest);
  };
  fs.renameSync = function (from, to) {
    const hit = typeof to === 'string' && path.basename(to) === name;
    if (hit && phase === 'rename') die();
    const result = renameSync.call(this, from, to);
    if (hit && phase === 'renamed') die();
    return result;
  };
  syncBuiltinESMExports();
}
