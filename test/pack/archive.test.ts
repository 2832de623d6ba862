// The .charm written by `npm run pack`: name, exact contents, modes (as recorded in the zip and
// as restored by `unzip`), manifest bases, copies of dispatch, the runtime (xz, its id, the size
// limit) and reproducibility.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { xzArgs } from '../../scripts/runtime.mjs';
import { ROOT, cleanup, isExecutable, listFiles, pack, run, unzip, type Packed } from './helpers.js';

const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch]!;
const EPOCH = '1767225600'; // 2026-01-01T00:00:00Z
const MAX_CHARM_BYTES = 25 * 2 ** 20; // issue 15
let packed: Packed;
let dir: string;

beforeAll(() => {
  packed = pack([], { SOURCE_DATE_EPOCH: EPOCH });
  dir = unzip(packed.path);
});

afterAll(() => cleanup(packed?.workDir, dir));

/** The bundle's chunks (scripts/bundle.mjs splits them out), as esbuild wrote them next to it. */
function chunkFiles(): string[] {
  const meta = JSON.parse(readFileSync(packed.metafile, 'utf8')) as { outputs: Record<string, unknown> };
  return Object.keys(meta.outputs)
    .map((f) => path.basename(f))
    .filter((f) => f !== 'charm.js');
}

function expectedFiles(): string[] {
  const files = [
    'manifest.yaml',
    'metadata.yaml',
    'config.yaml',
    'actions.yaml',
    'dispatch',
    'hooks/install',
    'hooks/start',
    'hooks/upgrade-charm',
    'hooks/config-changed',
    'dist/charm.js',
    ...chunkFiles().map((c) => `dist/${c}`),
    'dist/exporter.js',
    'dist/copier.js',
    'dist/package.json',
    'node/bin/node.xz',
    'node/bin/node.id',
    'version', // git describe: the tests run in a git checkout
  ];
  if (packed.nodeLicense) files.push('node/LICENSE');
  for (const f of ['README.md', 'LICENSE']) if (existsSync(path.join(packed.charmDir, f))) files.push(f);
  return files.sort();
}

/** This machine's node as `strip --strip-all` leaves a copy of it. */
function strippedNode(): Buffer {
  const out = path.join(packed.workDir, 'node.stripped');
  const r = run('strip', ['--strip-all', '-o', out, process.execPath]);
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(out);
}

let unxzCache: string | undefined;
/** node/bin/node.xz of the unzipped charm, unpacked with `xz -dc` into the work dir. */
function unxzNode(): string {
  if (unxzCache) return unxzCache;
  const out = path.join(packed.workDir, 'node.unxz');
  const r = run('sh', ['-c', 'xz --decompress --stdout -- "$1" > "$2"', 'sh', path.join(dir, 'node/bin/node.xz'), out]);
  expect(r.status, r.stderr).toBe(0);
  return (unxzCache = out);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('npm run pack', () => {
  it('names the file like charmcraft, <name>_ubuntu-22.04-<arch>.charm, in the output dir', () => {
    const name = (parse(readFileSync(path.join(packed.charmDir, 'metadata.yaml'), 'utf8')) as { name: string }).name;
    expect(packed.path).toBe(path.join(packed.workDir, `${name}_ubuntu-22.04-${arch}.charm`));
    expect(statSync(packed.path).size).toBe(packed.size);
    expect(packed.arch).toBe(arch);
  });

  it('holds exactly the charm files: no node_modules, sources, tests or source maps', () => {
    const files = listFiles(dir);
    expect(files).toEqual(expectedFiles());
    expect(packed.entries.map((e) => e.name).sort()).toEqual(files);
    for (const f of files) expect(f).not.toMatch(/(^|\/)(node_modules|src|test|\.git)(\/|$)|\.(map|ts)$/);
  });

  it('passes unzip -t', () => {
    const r = run('unzip', ['-tq', packed.path]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('records Unix modes made by Unix in the zip (zipinfo): 0755 for dispatch and hooks, else 0644; node.xz stored, not deflated', () => {
    const r = run('unzip', ['-Z', packed.path]);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .split('\n')
      .map((l) => /^(\S{10})\s+(\d+\.\d+)\s+(\S+)\s+(\d+)\s+\S+\s+(\S+)\s+\S+\s+\S+\s+(.+)$/.exec(l))
      .filter((m) => m !== null);
    expect(rows.map((m) => m[6]).sort()).toEqual(expectedFiles());
    for (const [, perms, , os, , method, name] of rows) {
      expect([name, os]).toEqual([name, 'unx']);
      expect([name, perms]).toEqual([name, isExecutable(name!) ? '-rwxr-xr-x' : '-rw-r--r--']);
      expect(['defN', 'stor']).toContain(method);
    }
    expect(rows.find((m) => m[6] === 'node/bin/node.xz')![5]).toBe('stor');
  });

  it('restores those modes when unzipped', () => {
    for (const f of listFiles(dir)) {
      const mode = statSync(path.join(dir, f)).mode & 0o7777;
      expect([f, mode.toString(8)]).toEqual([f, isExecutable(f) ? '755' : '644']);
    }
  });

  it('writes a manifest with ubuntu 22.04 and 24.04 bases for the build architecture', () => {
    const manifest = parse(readFileSync(path.join(dir, 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
    expect(manifest.bases).toEqual([
      { name: 'ubuntu', channel: '22.04', architectures: [arch] },
      { name: 'ubuntu', channel: '24.04', architectures: [arch] },
    ]);
    expect(manifest.analysis).toEqual({
      attributes: [
        { name: 'language', result: 'javascript' },
        { name: 'framework', result: 'unknown' },
      ],
    });
    expect(manifest['charmcraft-version']).toEqual(expect.any(String));
    expect(manifest['charmcraft-started-at']).toBe(new Date(Number(EPOCH) * 1000).toISOString());
  });

  it('ships the dispatch script, and hooks that are byte-identical copies of it (not links)', () => {
    const dispatch = readFileSync(path.join(ROOT, 'dispatch'));
    expect(readFileSync(path.join(dir, 'dispatch')).equals(dispatch)).toBe(true);
    for (const hook of ['install', 'start', 'upgrade-charm', 'config-changed']) {
      expect(readFileSync(path.join(dir, 'hooks', hook)).equals(dispatch), hook).toBe(true);
    }
  });

  it("ships the charm's YAML files unchanged, the bundle, its chunks, the exporter and the copier as ESM, this machine's node stripped, and a version", () => {
    for (const f of ['metadata.yaml', 'config.yaml', 'actions.yaml']) {
      expect(readFileSync(path.join(dir, f), 'utf8'), f).toBe(readFileSync(path.join(packed.charmDir, f), 'utf8'));
    }
    for (const f of ['charm.js', ...chunkFiles(), 'exporter.js', 'copier.js']) {
      expect(readFileSync(path.join(dir, 'dist', f)).equals(readFileSync(path.join(packed.workDir, f))), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(path.join(dir, 'dist/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    expect(readFileSync(unxzNode()).equals(strippedNode())).toBe(true);
    if (packed.nodeLicense) expect(readFileSync(path.join(dir, 'node/LICENSE'), 'utf8')).toMatch(/Node\.js/);
    expect(readFileSync(path.join(dir, 'version'), 'utf8')).toMatch(/^\S+\n$/);
  });

  it('ships the runtime stripped: no symbol table or debug info, and smaller than this machine\'s node', () => {
    const r = run('readelf', ['-SW', unxzNode()]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\s\.(symtab|strtab|debug_\w+)\s/);
    expect(r.stdout).toMatch(/\s\.dynsym\s/);
    expect(statSync(unxzNode()).size).toBeLessThanOrEqual(statSync(process.execPath).size);
    expect(packed.nodeStripped).toBe(true);
    expect(packed.nodeSize).toBe(statSync(unxzNode()).size);
  });

  it('ships the runtime as node/bin/node.xz, made with the fixed xz options, and node/bin/node.id, its sha256', () => {
    const id = sha256(readFileSync(unxzNode()));
    expect(readFileSync(path.join(dir, 'node/bin/node.id'), 'utf8')).toBe(`${id}\n`);
    expect(packed.nodeXz).toMatchObject({ file: 'node/bin/node.xz', id, args: xzArgs(process.arch), size: statSync(path.join(dir, 'node/bin/node.xz')).size });
    expect(packed.nodeXz!.args).toEqual(expect.arrayContaining([expect.stringMatching(/^--threads=[1-9]$/), expect.stringMatching(/^--block-size=/)]));
    // What xz says about the file: one stream, the check and filters the options ask for.
    const list = run('xz', ['--list', '--verbose', '--verbose', path.join(dir, 'node/bin/node.xz')]);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/Streams:\s+1\b/);
    expect(list.stdout).toMatch(/Check:\s+CRC64/);
    if (process.arch === 'x64') expect(list.stdout).toMatch(/\s(--)?x86 --lzma2=dict=/);
    else expect(list.stdout).not.toMatch(/\s(--)?(x86|arm64) --lzma2=/);
    // Ubuntu 22.04's xz is 5.2.5 (no ARM64 filter, for one): it must be able to unpack this.
    const [major, minor, patch] = /Minimum XZ Utils version:\s+(\d+)\.(\d+)\.(\d+)/.exec(list.stdout)!.slice(1).map(Number) as [number, number, number];
    expect(major * 10_000 + minor * 100 + patch).toBeLessThanOrEqual(50_205);
  });

  it(`is at most ${MAX_CHARM_BYTES / 2 ** 20} MiB (issue 15)`, () => {
    expect(packed.charm, 'the real charm').toBe('real');
    expect(packed.size).toBeLessThanOrEqual(MAX_CHARM_BYTES);
  });

  it('is reproducible: a second pack, in another time zone, is byte-identical', () => {
    const again = pack([], { SOURCE_DATE_EPOCH: EPOCH, TZ: 'Pacific/Kiritimati' }); // UTC+14
    try {
      expect(again.charm).toBe(packed.charm);
      expect(again.nodeXz!.cached).toBe(true); // compressed once (test/pack/xz.test.ts: the cache gives what xz would)
      const [a, b] = [readFileSync(packed.path), readFileSync(again.path)];
      // The version file follows git: allow a commit landing between the two packs.
      if (!a.equals(b)) {
        const versions = [packed, again].map((p) => run('unzip', ['-p', p.path, 'version']).stdout);
        expect(versions[0], 'the two packs differ but not in their version file').not.toBe(versions[1]);
      }
    } finally {
      cleanup(again.workDir);
    }
  });

  it('ships the runtime uncompressed as node/bin/node (0755, deflated) with --no-xz, which dispatch runs as is', () => {
    const raw = pack(['--no-xz'], { SOURCE_DATE_EPOCH: EPOCH });
    const rawDir = unzip(raw.path);
    try {
      const files = listFiles(rawDir);
      expect(files).toContain('node/bin/node');
      expect(files.filter((f) => f.startsWith('node/bin/node.'))).toEqual([]);
      expect(raw.nodeXz).toBeNull();
      expect(raw.entries.find((e) => e.name === 'node/bin/node')).toMatchObject({ mode: '0755', method: 'deflate', size: raw.nodeSize });
      expect(readFileSync(path.join(rawDir, 'node/bin/node')).equals(readFileSync(unxzNode()))).toBe(true);
      // No xz, no node on PATH (an empty dir): dispatch runs the shipped node, which stops at once for want of a unit.
      const empty = path.join(raw.workDir, 'empty-bin');
      mkdirSync(empty);
      const r = run(path.join(rawDir, 'dispatch'), [], { env: { PATH: empty }, cwd: empty });
      expect(r.stderr).toContain('ERROR environment variable JUJU_UNIT_NAME is not set');
      expect(r.status, r.stderr).toBe(2);
      expect(listFiles(rawDir)).toEqual(files);
    } finally {
      cleanup(raw.workDir, rawDir);
    }
  });
});
