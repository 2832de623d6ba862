// scripts/runtime.mjs's compressRuntime, which the pack ships node/bin/node.xz from: the same
// bytes whether fresh or from the cache (so packs stay reproducible), a cache entry that is not
// whole is made again, a cache dir other users could write to is not used, and packs running at
// once compress a runtime once (a lock whose holder is gone is taken over). The input here is
// 2 MiB of this machine's node, so each compression takes a second, not the ~20 s of a whole one.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirProblem, compressRuntime, sha256, xzArgs } from '../../scripts/runtime.mjs';
import { cleanup, run, tempDir } from './helpers.js';

const RUNTIME_MJS = path.resolve(import.meta.dirname, '../../scripts/runtime.mjs');
let work: string;
let input: Buffer;
let fresh: Buffer;

/** What `xz --decompress` makes of `data`. */
function unxz(data: Buffer): Buffer {
  const r = spawnSync('xz', ['--decompress', '--stdout', '-'], { input: data, maxBuffer: 64 << 20 });
  expect(r.status, String(r.stderr)).toBe(0);
  return r.stdout;
}

const noLog = (m: string) => {
  throw new Error(`unexpected warning: ${m}`);
};

beforeAll(async () => {
  work = tempDir('xz-test');
  const fd = openSync(process.execPath, 'r');
  input = Buffer.alloc(2 << 20);
  readSync(fd, input, 0, input.length, 0);
  closeSync(fd);
  fresh = (await compressRuntime(input, { cacheDir: null, log: noLog })).data;
});

afterAll(() => cleanup(work));

describe('compressRuntime', () => {
  it('is xz with the fixed options, deterministic: the same bytes twice, which unpack to the input', async () => {
    const again = await compressRuntime(input, { cacheDir: null, log: noLog });
    expect(again.data.equals(fresh)).toBe(true);
    expect(again).toMatchObject({ id: sha256(input), args: xzArgs(process.arch), cached: false });
    expect(again.version).toMatch(/^xz \(XZ Utils\) \d+\.\d+/);
    expect(unxz(fresh).equals(input)).toBe(true);
    // xz's command line with these options gives the same file: nothing else decides it, not
    // even XZ_OPT or XZ_DEFAULTS, which would (a block list splits the stream), were they not cleared.
    const xzCli = (env: Record<string, string>) =>
      spawnSync('xz', [...xzArgs(process.arch), '--stdout', '-'], { input, maxBuffer: 64 << 20, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } }).stdout;
    expect(xzCli({}).equals(fresh)).toBe(true);
    expect(xzCli({ XZ_OPT: '--block-list=1MiB' }).equals(fresh)).toBe(false);
    const viaEnv = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { compressRuntime } from ${JSON.stringify(RUNTIME_MJS)};
         const chunks = []; for await (const c of process.stdin) chunks.push(c);
         process.stdout.write((await compressRuntime(Buffer.concat(chunks), { cacheDir: null })).data);`,
      ],
      { input, maxBuffer: 64 << 20, env: { ...process.env, XZ_OPT: '--block-list=1MiB', XZ_DEFAULTS: '--block-list=1MiB' } },
    );
    expect(viaEnv.status, String(viaEnv.stderr)).toBe(0);
    expect(viaEnv.stdout.equals(fresh)).toBe(true);
    // The thread count does not matter, only the block size: with 512 KiB blocks (four of them
    // here), two and three threads write the same bytes.
    const blocks = (threads: string) =>
      spawnSync('xz', [...xzArgs(process.arch).map((a) => (a.startsWith('--threads=') ? `--threads=${threads}` : a.startsWith('--block-size=') ? '--block-size=512KiB' : a)), '--stdout', '-'], {
        input,
        maxBuffer: 64 << 20,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      }).stdout;
    expect(blocks('3').equals(blocks('2'))).toBe(true);
    expect(blocks('2').equals(fresh)).toBe(false);
  });

  it('caches by the sha256 of the input, the options and the xz version: the second call reads the cache, and gives the fresh bytes', async () => {
    const cacheDir = path.join(work, 'cache-a');
    const first = await compressRuntime(input, { cacheDir, log: noLog });
    expect(first.cached).toBe(false);
    expect(first.data.equals(fresh)).toBe(true);
    const second = await compressRuntime(input, { cacheDir, log: noLog });
    expect(second.cached).toBe(true);
    expect(second.data.equals(fresh)).toBe(true);
    const files = readdirSync(cacheDir).sort();
    expect(files).toEqual([expect.stringMatching(new RegExp(`^${sha256(input)}-[0-9a-f]{16}\\.xz$`)), expect.stringMatching(/\.xz\.sha256$/)]);
    // Other options (arm64's: no x86 filter) are another entry.
    const arm = await compressRuntime(input, { cacheDir, arch: process.arch === 'x64' ? 'arm64' : 'x64', log: noLog });
    expect(arm.cached).toBe(false);
    expect(arm.data.equals(fresh)).toBe(false);
    expect(unxz(arm.data).equals(input)).toBe(true);
    expect(readdirSync(cacheDir)).toHaveLength(4);
    expect((await compressRuntime(input, { cacheDir, log: noLog })).cached).toBe(true);
  });

  it('makes a cache entry that is not whole again (a flipped byte, a missing checksum)', async () => {
    const cacheDir = path.join(work, 'cache-b');
    await compressRuntime(input, { cacheDir, log: noLog });
    const entry = path.join(cacheDir, readdirSync(cacheDir).find((f) => f.endsWith('.xz'))!);
    const bad = readFileSync(entry);
    bad.writeUInt8(bad.readUInt8(bad.length >> 1) ^ 0xff, bad.length >> 1);
    writeFileSync(entry, bad);
    const repaired = await compressRuntime(input, { cacheDir, log: noLog });
    expect(repaired.cached).toBe(false);
    expect(repaired.data.equals(fresh)).toBe(true);
    expect(readFileSync(entry).equals(fresh)).toBe(true);
    writeFileSync(`${entry}.sha256`, '');
    expect((await compressRuntime(input, { cacheDir, log: noLog })).cached).toBe(false);
    expect((await compressRuntime(input, { cacheDir, log: noLog })).cached).toBe(true);
  });

  it('does not use a cache dir under a directory other users can write to, nor one owned by another user', async () => {
    const open = path.join(work, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const warnings: string[] = [];
    const r = await compressRuntime(input, { cacheDir: path.join(open, 'cache'), log: (m) => warnings.push(m) });
    expect(r.cached).toBe(false);
    expect(r.data.equals(fresh)).toBe(true);
    expect(warnings).toEqual([expect.stringContaining(`not caching the compressed runtime: ${open} is writable by other users`)]);
    expect(readdirSync(path.join(open, 'cache'))).toEqual([]);
    // Sticky and world-writable (/tmp) is fine: nobody else can move our dir out of it.
    chmodSync(open, 0o1777);
    expect(cacheDirProblem(path.join(open, 'cache'))).toBeUndefined();
    if (process.getuid?.() === 0) {
      const theirs = path.join(work, 'theirs');
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 65534, 65534);
      expect(cacheDirProblem(theirs)).toBe(`${theirs} is owned by uid 65534, not 0`);
    }
  });

  it('waits while another live pack holds the lock, then takes over a lock whose holder is gone', async () => {
    const cacheDir = path.join(work, 'cache-c');
    mkdirSync(cacheDir, { mode: 0o700 });
    const key = `${sha256(input)}-`;
    // The lock's name follows the entry's: learn the key from a run in another cache dir.
    const probeDir = path.join(work, 'cache-probe');
    await compressRuntime(input, { cacheDir: probeDir, log: noLog });
    const entry = readdirSync(probeDir).find((f) => f.startsWith(key) && f.endsWith('.xz'))!;
    const lock = path.join(cacheDir, entry.replace(/\.xz$/, '.lock'));

    const holder = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    writeFileSync(lock, `${holder.pid}\n`);
    let done = false;
    const p = compressRuntime(input, { cacheDir, log: noLog }).then((r) => {
      done = true;
      return r;
    });
    // Had it not waited, it would have compressed synchronously and be done by now.
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(done).toBe(false);
    expect(readFileSync(lock, 'utf8')).toBe(`${holder.pid}\n`);
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.stdin.end();
    await exited;
    const r = await p;
    expect(r.cached).toBe(false);
    expect(r.data.equals(fresh)).toBe(true);
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(cacheDir).sort()).toEqual([entry, `${entry}.sha256`]);
  });

  it('fails with a message naming xz-utils when xz is missing', async () => {
    const script = `import { compressRuntime } from ${JSON.stringify(RUNTIME_MJS)};
      await compressRuntime(Buffer.from('x'), { cacheDir: null }).catch((e) => { console.error(e.message); process.exit(3); });`;
    const r = run(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: work } });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('xz not found: install xz-utils');
  });
});
