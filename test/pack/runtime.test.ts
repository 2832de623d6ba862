// The unzipped .charm runs on its own: dispatch and the hooks start the bundled Node runtime even
// with no node on PATH, and the bundle loads nothing from outside the charm (traced at run time,
// and checked statically in the bundle text and esbuild's metafile).
// The runtime ships as node/bin/node.xz: the first dispatch unpacks it (by rename, never through
// a symlink, nothing left behind when it fails), later ones run it with no program started
// before node, and an upgrade bringing another node.xz unpacks that one beside a running node.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, unpackRuntime } from '../../scripts/runtime.mjs';
import { ROOT, cleanup, pack, run, tempDir, unzip, type Packed } from './helpers.js';

const NO_UNIT = 'ERROR environment variable JUJU_UNIT_NAME is not set';
/** What the unpack runs, besides xz (dispatch's steady path runs nothing). */
const UNPACK_TOOLS = ['sh', 'mktemp', 'chmod', 'sync', 'mv', 'rmdir', 'rm'];
let packed: Packed;
let pristine: string; // the unzipped charm, never run
let dir: string; // a copy of it, unpacked by its first dispatch (in beforeAll)
let firstRun: ReturnType<typeof run>;
let sandbox: string; // bin/, no-xz-bin/, empty-bin/; home/; cwd/; trace hooks; copies of the charm
let bin: string; // UNPACK_TOOLS and an xz that records its calls in xzLog
let noXzBin: string; // UNPACK_TOOLS only
let emptyBin: string;
let xzLog: string;
let home: string;
let cwd: string;

beforeAll(() => {
  packed = pack();
  pristine = realpathSync(unzip(packed.path));
  sandbox = realpathSync(tempDir('pack-sandbox'));
  [bin, noXzBin, emptyBin, home, cwd] = ['bin', 'no-xz-bin', 'empty-bin', 'home', 'cwd'].map((d) => path.join(sandbox, d)) as [string, string, string, string, string];
  for (const d of [bin, noXzBin, emptyBin, home, cwd]) mkdirSync(d);
  for (const tool of [...UNPACK_TOOLS, 'xz']) {
    const found = run('sh', ['-c', `command -v ${tool}`]).stdout.trim();
    expect(found, tool).toMatch(/^\//);
    if (tool === 'xz') {
      xzLog = path.join(sandbox, 'xz.log');
      writeFileSync(xzLog, '');
      writeFileSync(path.join(bin, 'xz'), `#!/bin/sh\necho "$*" >> '${xzLog}'\nexec '${found}' "$@"\n`, { mode: 0o755 });
    } else {
      symlinkSync(found, path.join(bin, tool));
      symlinkSync(found, path.join(noXzBin, tool));
    }
  }
  dir = copyCharm();
  firstRun = run(path.join(dir, 'dispatch'), [], { env: bareEnv(), cwd });
});

afterAll(() => cleanup(packed?.workDir, pristine, sandbox));

/** A hook-like environment with no JUJU_* variables: the charm stops at once with exit code 2. */
const bareEnv = (PATH = bin) => ({ PATH, HOME: home });

const isBuiltin = (s: string) => s.startsWith('node:') || builtinModules.includes(s);

let copies = 0;
/** A fresh copy of the unzipped charm (node.xz, no node/bin/node yet), in the sandbox. */
function copyCharm(): string {
  const copy = path.join(sandbox, `charm-${++copies}`);
  cpSync(pristine, copy, { recursive: true });
  return copy;
}

const xzCalls = () => readFileSync(xzLog, 'utf8').split('\n').filter(Boolean);
const nodeBin = (charm: string) => readdirSync(path.join(charm, 'node/bin')).sort();
const idOf = (charm: string) => readFileSync(path.join(charm, 'node/bin/node.id'), 'utf8');
const UNPACKED = ['node', 'node.id', 'node.unpacked-id', 'node.xz'];
const PACKED = ['node.id', 'node.xz'];

/** node/bin/node is a regular 0755 file, the runtime node.id names, and node.unpacked-id says so. */
function expectUnpacked(charm: string) {
  const node = path.join(charm, 'node/bin/node');
  const st = lstatSync(node);
  expect(st.isFile()).toBe(true);
  expect((st.mode & 0o7777).toString(8)).toBe('755');
  expect(`${sha256(readFileSync(node))}\n`).toBe(idOf(charm));
  expect(readFileSync(path.join(charm, 'node/bin/node.unpacked-id'), 'utf8')).toBe(idOf(charm));
  expect((lstatSync(path.join(charm, 'node/bin/node.unpacked-id')).mode & 0o7777).toString(8)).toBe('644');
  expect(nodeBin(charm)).toEqual(UNPACKED);
}

/** Every path under `dir` with its type, mode and contents: what a write through a symlink would change. */
function listTree(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix))
    .sort()
    .flatMap((name) => {
      const rel = path.join(prefix, name);
      const st = lstatSync(path.join(dir, rel));
      if (st.isDirectory()) return [`${rel}/ ${(st.mode & 0o7777).toString(8)}`, ...listTree(dir, rel)];
      return [`${rel} ${(st.mode & 0o7777).toString(8)} ${readFileSync(path.join(dir, rel), 'utf8')}`];
    });
}

/** The charm started and stopped at once for want of a unit: exit 2, nothing on stdout. */
function expectHookRan(r: ReturnType<typeof run>) {
  expect(r.stderr).toContain(NO_UNIT);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
}

describe('dispatch and the xz runtime', () => {
  it('has no node on the test PATH', () => {
    expect(run(path.join(bin, 'sh'), ['-c', 'command -v node'], { env: bareEnv() }).status).not.toBe(0);
  });

  it('ships node/bin/node.xz and node.id, and no node/bin/node', () => {
    expect(nodeBin(pristine)).toEqual(PACKED);
    expect(idOf(pristine)).toBe(`${packed.nodeXz!.id}\n`);
  });

  it('unpacks it on the first dispatch (xz once) into node/bin/node, 0755, the runtime node.id names, then runs the hook on it', () => {
    expectHookRan(firstRun);
    expect(xzCalls()).toEqual([`--decompress --stdout -- ${dir}/node/bin/node.xz`]);
    expectUnpacked(dir);
  });

  it('runs later dispatches and hooks on it as it is: no xz, no program at all before node (empty PATH), the same file', () => {
    const node = path.join(dir, 'node/bin/node');
    const before = statSync(node);
    const calls = xzCalls().length;
    for (const entry of ['dispatch', 'hooks/install', 'hooks/upgrade-charm']) expectHookRan(run(path.join(dir, entry), [], { env: bareEnv(emptyBin), cwd }));
    const after = statSync(node);
    expect([after.ino, after.mtimeMs, after.ctimeMs]).toEqual([before.ino, before.mtimeMs, before.ctimeMs]);
    expect(xzCalls()).toHaveLength(calls);
    expectUnpacked(dir);
  });

  it("finds the charm dir from $0 as `dirname`, and `basename` for hooks/, would (with no process)", () => {
    const text = readFileSync(path.join(ROOT, 'dispatch'), 'utf8');
    const start = text.indexOf('case $0 in');
    const end = text.indexOf('\nbin=$dir/node/bin');
    expect([start, end].every((i) => i > 0), 'the charm dir lines of dispatch').toBe(true);
    const mine = `${text.slice(start, end)}\nprintf '%s' "$dir"`;
    const reference = 'd=$(dirname "$0"); [ "$(basename "$d")" = hooks ] && d=$(dirname "$d"); printf %s "$d"';
    const zeros = ['dispatch', './dispatch', '/dispatch', '//dispatch', '/a/b/dispatch', 'a/b/dispatch', 'a//b//dispatch', 'hooks/install', './hooks/install', '/hooks/install', '//hooks/install', '/c/hooks/install', 'c//hooks//install', 'hooks//install', '/c/hooks/../hooks/install', '/c/nothooks/install', '/c/myhooks/install', '/c/hooks.d/install', '/c d/hooks/install', 'a b', '/c/hooks/hooks/install', '/var/lib/juju/agents/unit-x-0/charm/hooks/config-changed'];
    for (const zero of zeros) {
      const got = spawnSync('/bin/sh', ['-c', mine, zero], { env: {}, encoding: 'utf8' });
      const want = spawnSync('/bin/sh', ['-c', reference, zero], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
      expect([zero, got.stdout]).toEqual([zero, want.stdout]);
    }
  });

  it('runs the hook from every form of $0: a bare dispatch, ./ and hooks/ relative paths, doubled slashes, ..', () => {
    const forms: [string, string[], string][] = [
      ['/bin/sh', ['dispatch'], dir],
      ['/bin/sh', ['./hooks/install'], dir],
      ['/bin/sh', ['hooks//config-changed'], dir],
      [`${dir}//hooks/start`, [], cwd],
      [`${dir}/hooks/../dispatch`, [], cwd],
      ['/bin/sh', [`../${path.basename(dir)}/hooks/upgrade-charm`], path.join(sandbox, 'cwd')],
    ];
    for (const [cmd, args, where] of forms) expectHookRan(run(cmd, args, { env: bareEnv(emptyBin), cwd: where }));
  });

  it('unpacks again, by rename, when an upgrade brings another node.xz and node.id: a node still running the old binary keeps it', async () => {
    const charm = copyCharm();
    expectHookRan(run(path.join(charm, 'dispatch'), [], { env: bareEnv(), cwd }));
    const node = path.join(charm, 'node/bin/node');
    const oldId = idOf(charm);
    const oldIno = statSync(node).ino;
    // The exporter, say: started from node/bin/node, running on.
    const running = spawn(node, ['-e', 'console.log("ready"); process.stdin.on("data", () => console.log("alive"))'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: running.stdout! })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe('ready');
    const fd = openSync(node, 'r');
    try {
      // The new charm's runtime: another binary (the old one with bytes after its ELF image, which
      // still runs), compressed fast; Juju writes the new files over the old ones.
      const newNode = Buffer.concat([readFileSync(node), Buffer.from('\n# upgraded\n')]);
      const xz = spawnSync('xz', ['-0', '--threads=1', '--stdout', '-'], { input: newNode, maxBuffer: 256 << 20 });
      expect(xz.status).toBe(0);
      writeFileSync(path.join(charm, 'node/bin/node.xz'), xz.stdout);
      writeFileSync(path.join(charm, 'node/bin/node.id'), `${sha256(newNode)}\n`);
      const calls = xzCalls().length;

      expectHookRan(run(path.join(charm, 'hooks/upgrade-charm'), [], { env: bareEnv(), cwd }));
      expect(xzCalls()).toHaveLength(calls + 1);
      expectUnpacked(charm);
      expect(readFileSync(node).equals(newNode)).toBe(true);
      expect(statSync(node).ino).not.toBe(oldIno);

      // The old binary is intact: unlinked, still open, still running.
      expect(fstatSync(fd).nlink).toBe(0);
      const old = Buffer.alloc(fstatSync(fd).size);
      expect(readSync(fd, old)).toBe(old.length);
      expect(`${sha256(old)}\n`).toBe(oldId);
      expect(readlinkSync(`/proc/${running.pid}/exe`)).toBe(`${node} (deleted)`);
      running.stdin!.write('ping\n');
      expect((await lines.next()).value).toBe('alive');
    } finally {
      closeSync(fd);
      running.stdin!.end();
    }
    expect(await new Promise((resolve) => running.once('exit', resolve))).toBe(0);
    // And the next hook runs the new one as it is.
    const calls = xzCalls().length;
    expectHookRan(run(path.join(charm, 'dispatch'), [], { env: bareEnv(emptyBin), cwd }));
    expect(xzCalls()).toHaveLength(calls);
  });

  it('without xz on PATH: exits 1 naming xz-utils, runs no hook and leaves no node/bin/node or temporary file', () => {
    const charm = copyCharm();
    const r = run(path.join(charm, 'dispatch'), [], { env: bareEnv(noXzBin), cwd });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^dispatch: cannot unpack the Node\.js runtime \(.*node\/bin\/node\.xz\): xz is not installed; install xz-utils \(apt-get install xz-utils\)/);
    expect(r.stderr).not.toContain(NO_UNIT);
    expect(r.stdout).toBe('');
    expect(nodeBin(charm)).toEqual(PACKED);
  });

  it('when xz fails (a truncated node.xz): exits 1 saying so, and leaves no partial node/bin/node or temporary file', () => {
    const charm = copyCharm();
    const xz = path.join(charm, 'node/bin/node.xz');
    truncateSync(xz, statSync(xz).size >> 1);
    const r = run(path.join(charm, 'dispatch'), [], { env: bareEnv(), cwd });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/dispatch: cannot unpack the Node\.js runtime: xz --decompress .*node\/bin\/node\.xz failed/);
    expect(r.stderr).not.toContain(NO_UNIT);
    expect(nodeBin(charm)).toEqual(PACKED);
  });

  it("unpackRuntime (for tools such as the benchmarks) runs a charm dir's dispatch once to unpack it, and then not again", () => {
    const charm = copyCharm();
    const calls = xzCalls().length;
    const first = unpackRuntime(charm);
    expect(first).toMatchObject({ node: path.join(charm, 'node/bin/node'), unpacked: true });
    expectUnpacked(charm);
    const ino = statSync(first.node).ino;
    expect(unpackRuntime(charm)).toMatchObject({ node: first.node, unpacked: false });
    expect(statSync(first.node).ino).toBe(ino);
    expect(xzCalls()).toHaveLength(calls); // its dispatch ran with the system PATH, not the stand-in xz
    truncateSync(path.join(charm, 'node/bin/node.xz'), 100);
    writeFileSync(path.join(charm, 'node/bin/node.id'), 'another\n');
    expect(() => unpackRuntime(charm)).toThrow(/dispatch did not unpack node\/bin\/node\.xz \(exit 1\): xz: .*\n?dispatch: cannot unpack/);
  });

  for (const [when, target] of [
    ['before the first hook', 'file'],
    ['before the first hook', 'directory'],
    ['after the unpack', 'file'],
  ] as const) {
    it(`replaces a symlink planted at node/bin/node and node.unpacked-id ${when}, to a ${target}, and writes nothing through it`, () => {
      const charm = copyCharm();
      if (when === 'after the unpack') expectHookRan(run(path.join(charm, 'dispatch'), [], { env: bareEnv(), cwd }));
      const victims = path.join(sandbox, `victims-${copies}`);
      mkdirSync(victims);
      const victim = path.join(victims, target === 'file' ? 'file' : 'dir');
      if (target === 'file') writeFileSync(victim, 'victim\n');
      else mkdirSync(victim);
      const idVictim = path.join(victims, 'id');
      writeFileSync(idVictim, when === 'after the unpack' ? idOf(charm) : 'victim id\n');
      for (const [link, to] of [
        ['node', victim],
        ['node.unpacked-id', idVictim],
      ] as const) {
        rmSync(path.join(charm, 'node/bin', link), { force: true });
        symlinkSync(to, path.join(charm, 'node/bin', link));
      }
      const snapshot = () => listTree(victims);
      const before = snapshot();

      expectHookRan(run(path.join(charm, 'dispatch'), [], { env: bareEnv(), cwd }));
      expectUnpacked(charm);
      expect(snapshot()).toEqual(before);
    });
  }
});

describe('the packed charm at run time', () => {
  it('ships a Node >= 20 runtime for this architecture', () => {
    const r = run(path.join(dir, 'node/bin/node'), ['-p', 'process.version + " " + process.arch'], { env: {}, cwd });
    expect(r.status, r.stderr).toBe(0);
    const [version, arch] = r.stdout.trim().split(' ');
    expect(Number(/^v(\d+)\./.exec(version!)?.[1])).toBeGreaterThanOrEqual(20);
    expect(arch).toBe(process.arch);
    expect(version).toBe(packed.node);
  });

  for (const entry of ['dispatch', 'hooks/install', 'hooks/config-changed']) {
    it(`runs ${entry} on the bundled runtime, from another cwd, with no node on PATH`, () => {
      const r = run(path.join(dir, entry), [], { env: bareEnv(), cwd });
      expect(r.stderr).toContain(NO_UNIT);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
    });
  }

  it('runs dist/exporter.js --help on the bundled runtime (stripped of its symbols)', () => {
    const r = run(path.join(dir, 'node/bin/node'), [path.join(dir, 'dist/exporter.js'), '--help'], { env: bareEnv(), cwd });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/usage: exporter\.js --port/);
  });

  it('keeps the runtime features the charm uses once stripped: ICU, OpenSSL, zlib, fetch, workers', () => {
    const script = [
      'const c = require("node:crypto"), z = require("node:zlib");',
      'console.log([',
      '  new Intl.DateTimeFormat("de", { month: "long", timeZone: "UTC" }).format(new Date(0)),',
      '  "x".localeCompare("y", "sv"),',
      '  c.createHash("sha256").update("x").digest("hex").slice(0, 8),',
      '  z.gunzipSync(z.gzipSync("zlib")).toString(),',
      '  typeof fetch, typeof require("node:worker_threads").Worker,',
      '].join(" "));',
    ].join('\n');
    const r = run(path.join(dir, 'node/bin/node'), ['-e', script], { env: bareEnv(), cwd });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('Januar -1 2d711642 zlib function function');
  });

  it('loads no module from outside the charm dir (ESM and require() traced)', () => {
    const trace = path.join(sandbox, 'trace.log');
    writeFileSync(trace, '');
    const hooks = path.join(sandbox, 'trace-hooks.mjs');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(trace)}, 'esm ' + r.url + '\\n');
  return r;
}
`,
    );
    const register = path.join(sandbox, 'trace-register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const cjs = path.join(sandbox, 'trace-require.cjs');
    writeFileSync(
      cjs,
      `const Module = require('node:module');
const { appendFileSync } = require('node:fs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const r = resolve.call(this, request, ...rest);
  appendFileSync(${JSON.stringify(trace)}, 'cjs ' + r + '\\n');
  return r;
};
`,
    );
    const r = run(
      path.join(dir, 'node/bin/node'),
      ['--require', cjs, '--import', pathToFileURL(register).href, path.join(dir, 'dist/charm.js'), path.join(dir, 'hooks/install')],
      { env: bareEnv(), cwd },
    );
    expect(r.stderr).toContain(NO_UNIT);
    expect(r.status).toBe(2);
    const loaded = readFileSync(trace, 'utf8').trim().split('\n');
    expect(loaded).toContain(`esm ${pathToFileURL(path.join(dir, 'dist/charm.js')).href}`);
    const outside = loaded.filter((line) => {
      const target = line.slice(4);
      if (isBuiltin(target)) return false;
      const file = target.startsWith('file:') ? new URL(target).pathname : target;
      return !file.startsWith(`${dir}/`);
    });
    expect(outside).toEqual([]);
  });

  it('imports and requires only Node built-ins and its own chunks in the bundle text', () => {
    const shipped = readdirSync(path.join(dir, 'dist')).filter((f) => f.endsWith('.js'));
    expect(shipped).toContain('charm.js');
    const specifiers = new Set<string>();
    const patterns = [
      /\bimport\s*\(\s*(["'`])([^"'`]+)\1\s*\)/g, // import("x")
      /\brequire\s*\(\s*(["'`])([^"'`]+)\1\s*\)/g, // require("x")
      /(?:^|[;}\n])\s*(?:import|export)\b[^;"'`]*?\bfrom\s*(["'])([^"']+)\1/g, // import … from "x"
      /(?:^|[;}\n])\s*import\s*(["'])([^"']+)\1/g, // import "x"
    ];
    for (const file of shipped) {
      const js = readFileSync(path.join(dir, 'dist', file), 'utf8');
      for (const re of patterns) for (const m of js.matchAll(re)) specifiers.add(m[2]!);
    }
    const chunk = (s: string) => s.startsWith('./') && shipped.includes(s.slice(2));
    // The scan does see the bundle's requires: of built-ins and of its chunks.
    expect(specifiers).toContain('node:fs');
    expect([...specifiers].filter(chunk)).not.toEqual([]);
    expect([...specifiers].filter((s) => !isBuiltin(s) && !chunk(s))).toEqual([]);
  });

  it("builds from the repository's files only, into the bundle and its chunks, importing only built-ins (esbuild metafile)", () => {
    const meta = JSON.parse(readFileSync(packed.metafile, 'utf8')) as {
      inputs: Record<string, unknown>;
      outputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
    };
    const outputs = Object.entries(meta.outputs);
    expect(outputs.map(([f]) => path.basename(f))).toContain('charm.js');
    for (const [file, out] of outputs) {
      expect(path.dirname(file), file).toBe(path.dirname(outputs[0]![0]));
      expect(out.imports.filter((i) => i.external && !isBuiltin(i.path)), file).toEqual([]);
      const names = new Set(outputs.map(([f]) => path.resolve(f)));
      expect(out.imports.filter((i) => !i.external && !names.has(path.resolve(i.path))), file).toEqual([]);
    }
    expect(Object.keys(meta.inputs).filter((f) => f.startsWith('..') || path.isAbsolute(f))).toEqual([]);
  });
});
