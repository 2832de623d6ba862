// The Node.js runtime inside the charm: scripts/pack.mjs ships it xz-compressed, and the charm's
// `dispatch` unpacks it on a unit's first hook (see the comments there).
//
//   node/bin/node.xz          the runtime, `xz` with XZ_ARGS (stored in the zip, not deflated)
//   node/bin/node.id          the sha256 (hex) of the runtime inside node.xz, and a newline
//   node/bin/node             written by dispatch: the unpacked runtime
//   node/bin/node.unpacked-id written by dispatch, last: the node.id that node/bin/node came from
//
// compressRuntime() caches what it compresses (~20 s of xz on two cores for a 86 MB node) under
// node_modules/.cache/charm-runtime/, keyed by the sha256 of the input, the xz options and xz's
// version, so only the first pack of a given runtime pays for it; xz's output is deterministic
// for the same input, options and version (and block size: see xzArgs), so a cached and a fresh
// pack are byte-identical. unpackRuntime() makes a packed charm dir ready to run outside Juju (the
// benchmarks hard-link node/bin/node), by running its own dispatch.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const RUNTIME = 'node/bin/node';
export const RUNTIME_XZ = 'node/bin/node.xz';
export const RUNTIME_ID = 'node/bin/node.id';
const UNPACKED_ID = 'node/bin/node.unpacked-id';
export const DEFAULT_CACHE_DIR = path.join(ROOT, 'node_modules/.cache/charm-runtime');

/** Cache entries kept (the newest by use); each is one runtime's .xz, ~20 MiB. */
const CACHE_KEEP = 4;
/** How long a pack waits for another one compressing the same runtime before doing it itself. */
const LOCK_WAIT_MS = 10 * 60_000;

/** An error whose message is the whole story (pack.mjs prints it without a stack). */
export class RuntimeError extends Error {}

/**
 * The xz options, fixed so that packs are reproducible: the x86 BCJ filter on x64 (-3.5 % on
 * node), then LZMA2 preset 6 (8 MiB dictionary: 9 MiB of memory to unpack), in 24 MiB blocks
 * (xz's default for preset 6, written out) compressed on two threads. xz's multi-threaded output
 * depends on the block size, not on the number of threads (-T2 and -T3 write the same bytes;
 * only -T1 is another, single-threaded, format), so any machine writes the same file, in half
 * the time on two cores (~20 s for node, against ~44 s for preset 9 on one thread, which is
 * 0.24 MiB smaller). arm64 gets no BCJ
 * filter: xz's ARM64 one is new in 5.4, and Ubuntu 22.04's xz (5.2.5) could not unpack it.
 * The measurements behind the choice are in README.md ("What is in the .charm").
 */
export function xzArgs(arch = process.arch) {
  return ['--format=xz', '--check=crc64', '--threads=2', '--block-size=24MiB', ...(arch === 'x64' ? ['--x86'] : []), '--lzma2=preset=6'];
}

export const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** `xz --version`'s output; throws a RuntimeError naming the package when xz is missing. */
function xzVersion() {
  const r = xz(['--version'], { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') throw new RuntimeError('xz not found: install xz-utils (or pass --no-xz to ship the runtime uncompressed)');
  if (r.status !== 0) throw new RuntimeError(`xz --version failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}

/** xz with the user's XZ_DEFAULTS and XZ_OPT out of the way: the options are ours alone. */
export function xz(args, opts = {}) {
  const { XZ_DEFAULTS: _d, XZ_OPT: _o, ...env } = process.env;
  return spawnSync('xz', args, { ...opts, env });
}

/**
 * Why `dir` must not hold the cache, or undefined when it may: it must be a real directory (not a
 * symlink) owned by this user and closed to others, and every directory above it owned by this
 * user or root and writable by nobody else (unless sticky, like /tmp), so that no other user can
 * put a runtime of theirs where the next pack would ship it.
 */
export function cacheDirProblem(dir) {
  const uid = process.getuid?.() ?? 0;
  const st = lstatSync(dir);
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not ${uid}`;
  if (st.mode & 0o022) return `${dir} is writable by other users (mode 0${(st.mode & 0o777).toString(8)})`;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const s = statSync(d);
    if (s.uid !== uid && s.uid !== 0) return `${d} is owned by uid ${s.uid}`;
    if (s.mode & 0o022 && !(s.mode & 0o1000)) return `${d} is writable by other users (mode 0${(s.mode & 0o777).toString(8)})`;
    if (d === path.dirname(d)) return undefined;
  }
}

/** The file's bytes, or undefined when it does not exist. */
export function readOptional(file) {
  try {
    return readFileSync(file);
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes `data` to `file` through a new temporary file next to it, renamed into place. */
function writeAtomic(file, data) {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { flag: 'wx', mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The cached .xz of `key`, if it is there whole: its sha256 is in `<key>.xz.sha256`, written after it. */
function readCached(dir, key) {
  const file = path.join(dir, `${key}.xz`);
  const want = readOptional(`${file}.sha256`)?.toString('utf8').trim();
  const data = want && readOptional(file);
  if (!data || sha256(data) !== want) return undefined;
  const now = new Date();
  utimesSync(file, now, now); // the pruning keeps what is used
  return data;
}

function writeCached(dir, key, data) {
  const file = path.join(dir, `${key}.xz`);
  writeAtomic(file, data);
  writeAtomic(`${file}.sha256`, `${sha256(data)}\n`);
  const entries = readdirSync(dir)
    .filter((f) => f.endsWith('.xz'))
    .map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of entries.slice(CACHE_KEEP)) for (const g of [f, `${f}.sha256`]) rmSync(path.join(dir, g), { force: true });
  for (const f of readdirSync(dir)) {
    const pid = /(?:\.tmp-|^runtime-)(\d+)(?:\.xz)?$/.exec(f)?.[1]; // left by a pack that died
    if (pid && !processAlive(Number(pid))) rmSync(path.join(dir, f), { force: true });
  }
}

/** xz of `data` with `args`, checked by unpacking it again. */
function compressFresh(data, args, workDir) {
  const out = path.join(workDir, `runtime-${process.pid}.xz`);
  rmSync(out, { force: true });
  const fd = openSync(out, 'wx', 0o600);
  try {
    const r = xz([...args, '--stdout', '-'], { input: data, stdio: ['pipe', fd, 'pipe'], maxBuffer: 1 << 20 });
    if (r.error || r.status !== 0) throw new RuntimeError(`xz ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
  } finally {
    closeSync(fd);
  }
  try {
    const xzData = readFileSync(out);
    const back = xz(['--decompress', '--stdout', '-'], { input: xzData, maxBuffer: data.length + (1 << 20) });
    if (back.status !== 0 || !Buffer.isBuffer(back.stdout) || !back.stdout.equals(data)) {
      throw new RuntimeError(`xz ${args.join(' ')} wrote a file that does not unpack to its input: ${back.error?.message ?? back.stderr}`);
    }
    return xzData;
  } finally {
    rmSync(out, { force: true });
  }
}

function processAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * `data` (the runtime) compressed with xzArgs(arch), from the cache in `cacheDir` when it has it
 * (null: no cache). Packs running at once (the test suites) compress a runtime once: the first
 * holds `<key>.lock` while it compresses, the others wait for its result. A cache dir another
 * user could write to is not used (with a warning through `log`).
 * Returns { data, id, args, version, cached, ms }: id is the sha256 of the input.
 */
export async function compressRuntime(input, { arch = process.arch, cacheDir = DEFAULT_CACHE_DIR, log = (m) => console.error(m) } = {}) {
  const started = performance.now();
  const args = xzArgs(arch);
  const version = xzVersion();
  const id = sha256(input);
  const result = (data, cached) => ({ data, id, args, version, cached, ms: Math.round(performance.now() - started) });
  const key = `${id}-${sha256(JSON.stringify({ args, version })).slice(0, 16)}`;

  let cache;
  if (cacheDir) {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const st = lstatSync(cacheDir);
    if (st.isDirectory() && st.uid === (process.getuid?.() ?? 0) && st.mode & 0o077) chmodSync(cacheDir, 0o700);
    const problem = cacheDirProblem(cacheDir);
    if (problem) log(`pack: not caching the compressed runtime: ${problem}`);
    else cache = cacheDir;
  }
  if (!cache) {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'charm-runtime-'));
    try {
      return result(compressFresh(input, args, tmp), false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  const lock = path.join(cache, `${key}.lock`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const hit = readCached(cache, key);
    if (hit) return result(hit, true);
    let locked = false;
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      locked = true;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    if (locked) {
      try {
        const again = readCached(cache, key); // finished while we looked
        if (again) return result(again, true);
        const data = compressFresh(input, args, cache);
        writeCached(cache, key, data);
        return result(data, false);
      } finally {
        rmSync(lock, { force: true });
      }
    }
    // Another pack is compressing. A lock whose process is gone is stale (two packs may both
    // remove it and both compress: the results are identical, and written by rename).
    const holder = Number(readOptional(lock)?.toString('utf8').trim());
    if (!processAlive(holder)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      log(`pack: ${lock} is still held by process ${holder}; compressing without the cache`);
      return compressRuntime(input, { arch, cacheDir: null, log });
    }
    await sleep(200);
  }
}

/**
 * Makes a charm dir unpacked from a .charm ready to run: when it ships node/bin/node.xz, runs its
 * own `dispatch` once outside any hook context (no JUJU_* variables: the charm stops at once, exit
 * 2), which unpacks the runtime as on a unit's first hook. Throws when node/bin/node is not then
 * the runtime node.id names. Returns the runtime's path and whether it was unpacked now.
 */
export function unpackRuntime(charmDir) {
  const node = path.join(charmDir, RUNTIME);
  if (!existsSync(path.join(charmDir, RUNTIME_XZ))) return { node, unpacked: false, ms: 0 };
  const want = readFileSync(path.join(charmDir, RUNTIME_ID), 'utf8');
  if (readOptional(path.join(charmDir, UNPACKED_ID))?.toString('utf8') === want && existsSync(node)) return { node, unpacked: false, ms: 0 };
  const started = performance.now();
  const r = spawnSync(path.join(charmDir, 'dispatch'), [], { cwd: charmDir, env: { PATH: '/usr/local/bin:/usr/bin:/bin' }, encoding: 'utf8' });
  const have = readOptional(path.join(charmDir, UNPACKED_ID))?.toString('utf8');
  if (have !== want || !existsSync(node)) {
    throw new RuntimeError(`${charmDir}/dispatch did not unpack ${RUNTIME_XZ} (exit ${r.status ?? r.signal}): ${r.error?.message ?? r.stderr}`);
  }
  return { node, unpacked: true, ms: Math.round(performance.now() - started) };
}
