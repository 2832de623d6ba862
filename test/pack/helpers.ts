// Shared by the test/pack suites: runs scripts/pack.mjs into a temporary directory (the real
// charm if it builds, else the framework's recorder charm) and unzips the result with `unzip`.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const RECORDER_DIR = path.join(ROOT, 'test/charms/recorder');

export interface PackSummary {
  path: string;
  size: number;
  ms: number;
  node: string;
  /** The shipped runtime's size in bytes (uncompressed), and whether it is the `strip --strip-all` copy. */
  nodeSize: number;
  nodeStripped: boolean;
  /** node/bin/node.xz (null with --no-xz): its size, node.id, the xz options, and whether it came from the cache. */
  nodeXz: { file: string; size: number; id: string; args: string[]; version: string; cached: boolean; ms: number } | null;
  nodeLicense?: string;
  arch: string;
  entries: { name: string; mode: string; size: number; method: string }[];
}

export interface Packed extends PackSummary {
  /** Which charm was packed: the real one, or the recorder when the real build fails. */
  charm: 'real' | 'recorder';
  charmDir: string;
  /** The temporary directory holding the .charm, the bundle and esbuild's metafile. */
  workDir: string;
  metafile: string;
}

export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** Packs into a new temporary directory; `args` are extra pack.mjs options. */
export function pack(args: string[] = [], env: Record<string, string> = {}): Packed {
  const workDir = tempDir('pack-test');
  const metafile = path.join(workDir, 'meta.json');
  const common = ['--out-dir', workDir, '--bundle', path.join(workDir, 'charm.js'), '--metafile', metafile, '--json', ...args];
  const go = (extra: string[]) => run(process.execPath, ['scripts/pack.mjs', ...common, ...extra], { cwd: ROOT, env: { ...process.env, ...env } });
  let charm: Packed['charm'] = 'real';
  let r = go([]);
  if (r.status !== 0) {
    console.warn(`the real charm does not build; packing the recorder charm instead:\n${r.stderr.slice(0, 2000)}`);
    charm = 'recorder';
    r = go(['--entry', path.join(RECORDER_DIR, 'main.ts'), '--charm-dir', RECORDER_DIR]);
  }
  if (r.status !== 0) throw new Error(`pack failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PackSummary;
  return { ...summary, charm, charmDir: charm === 'real' ? ROOT : RECORDER_DIR, workDir, metafile };
}

/** `unzip -q` into a new temporary directory. */
export function unzip(file: string): string {
  const dir = tempDir('pack-unzip');
  const r = run('unzip', ['-q', file, '-d', dir]);
  if (r.status !== 0) throw new Error(`unzip failed: ${r.stderr}`);
  return dir;
}

/** Every file under `dir`, relative, '/'-separated, sorted; directories are not listed. */
export function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(path.join(dir, rel)).isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

export function cleanup(...dirs: (string | undefined)[]) {
  for (const d of dirs) if (d) rmSync(d, { recursive: true, force: true });
}

/** The files whose mode must be 0755 in the .charm; every other file is 0644. */
export function isExecutable(name: string): boolean {
  return name === 'dispatch' || name.startsWith('hooks/') || name === 'node/bin/node';
}
