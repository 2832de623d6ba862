// The unzipped .charm runs on its own: dispatch and the hooks start the bundled Node runtime even
// with no node on PATH, and the bundle loads nothing from outside the charm (traced at run time,
// and checked statically in the bundle text and esbuild's metafile).
import { mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, pack, run, tempDir, unzip, type Packed } from './helpers.js';

const NO_UNIT = 'ERROR environment variable JUJU_UNIT_NAME is not set';
let packed: Packed;
let dir: string; // the unzipped charm
let sandbox: string; // bin/ with only sh, dirname and basename; home/; cwd/; trace hooks
let bin: string;
let home: string;
let cwd: string;

beforeAll(() => {
  packed = pack();
  dir = realpathSync(unzip(packed.path));
  sandbox = tempDir('pack-sandbox');
  [bin, home, cwd] = ['bin', 'home', 'cwd'].map((d) => path.join(sandbox, d)) as [string, string, string];
  for (const d of [bin, home, cwd]) mkdirSync(d);
  for (const tool of ['sh', 'dirname', 'basename']) {
    const found = run('sh', ['-c', `command -v ${tool}`]).stdout.trim();
    expect(found, tool).toMatch(/^\//);
    symlinkSync(found, path.join(bin, tool));
  }
});

afterAll(() => cleanup(packed?.workDir, dir, sandbox));

/** A hook-like environment with no JUJU_* variables: the charm stops at once with exit code 2. */
const bareEnv = () => ({ PATH: bin, HOME: home });

const isBuiltin = (s: string) => s.startsWith('node:') || builtinModules.includes(s);

describe('the packed charm at run time', () => {
  it('has no node on the test PATH', () => {
    expect(run(path.join(bin, 'sh'), ['-c', 'command -v node'], { env: bareEnv() }).status).not.toBe(0);
  });

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
