// Bundles a charm entry point into CommonJS with its metadata embedded, so a hook neither resolves
// node_modules nor parses YAML at start-up. Used by `npm run build`, `npm run pack` and by tests
// that build a charm dir.
//
// Code splitting: every hook is a fresh process that parses what it loads, so modules reached
// only through a dynamic import() (execa for host programs, the OpenStack HTTP client, the proxy
// agents it loads only when a request goes through the model's proxy) go into
// chunks next to the entry, `<entry>.<name>-<hash>.js`, loaded by the hooks that need them.
//
// CommonJS, not ES modules: Node 20's ESM loader costs a hook ~7 ms more than require() does
// (measured on update-status: 43 -> 36 ms of its own time), a quarter of the runtime's own
// start-up. esbuild splits only ESM, so the split ESM output is transformed chunk by chunk into
// CommonJS: `import` becomes require() of the same sibling file, and import() a require() in a
// promise. dist/package.json says "commonjs", so node neither looks further up for a
// package.json nor guesses the format.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { readCharmYaml } from './charm-yaml.mjs';

/** The repository: the framework's sources the bundles take are found from here, whatever the cwd. */
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `import meta from 'virtual:charm-meta'` resolves to the charm's three YAML documents,
 * turned into a CharmMeta by src/ops/meta.ts's charmMetaFrom at bundle time.
 */
function charmMetaPlugin(charmDir) {
  return {
    name: 'charm-meta',
    setup(build) {
      build.onResolve({ filter: /^virtual:charm-meta$/ }, () => ({ path: 'charm-meta', namespace: 'charm-meta' }));
      build.onLoad({ filter: /.*/, namespace: 'charm-meta' }, () => {
        const docs = ['metadata.yaml', 'config.yaml', 'actions.yaml'].map((f) => readCharmYaml(charmDir, f));
        return {
          resolveDir: ROOT,
          contents: `import { charmMetaFrom } from ${JSON.stringify(path.join(ROOT, 'src/ops/meta.ts'))};
export default charmMetaFrom(${docs.map((d) => JSON.stringify(d)).join(', ')});`,
          loader: 'ts',
        };
      });
    },
  };
}

/**
 * yaml's ES module build. Under the `node` condition the package gives CommonJS, which esbuild
 * can neither tree-shake nor evaluate lazily (~2 ms more per hook that loads it). The ESM build
 * (its `default` export condition) is the same code; it warns with console.warn instead of
 * process.emitWarning and decodes !!binary with atob instead of Buffer.
 */
function yamlEsmPlugin() {
  return {
    name: 'yaml-esm',
    setup(build) {
      build.onResolve({ filter: /^yaml$/ }, () => {
        const esm = path.join(path.dirname(createRequire(import.meta.url).resolve('yaml/package.json')), 'browser/index.js');
        return existsSync(esm) ? { path: esm } : undefined;
      });
    },
  };
}

/**
 * Two modules under the proxy agents, replaced in the bundle:
 * - `debug`, by a no-op: with DEBUG set, http-proxy-agent prints each request it sends, headers
 *   (Proxy-Authorization, X-Auth-Token) and body (the password) included, to stderr, which Juju
 *   logs. The charm never wants that output.
 * - `kerberos` (proxy-agent-negotiate's SPNEGO proxy authentication, an optional peer the charm
 *   never uses), by a module that throws as a missing one would: it is loaded inside try/catch.
 * So the bundle imports nothing from outside.
 */
function proxyAgentDepsPlugin() {
  return {
    name: 'proxy-agent-deps',
    setup(build) {
      build.onResolve({ filter: /^(debug|kerberos)$/ }, (args) => ({ path: args.path, namespace: 'proxy-agent-deps' }));
      build.onLoad({ filter: /^debug$/, namespace: 'proxy-agent-deps' }, () => ({
        contents: 'export default function createDebug() { const debug = () => {}; debug.enabled = false; debug.extend = createDebug; return debug; }',
        loader: 'js',
      }));
      build.onLoad({ filter: /^kerberos$/, namespace: 'proxy-agent-deps' }, () => ({
        contents: "throw Object.assign(new Error(\"Cannot find module 'kerberos' (not bundled)\"), { code: 'MODULE_NOT_FOUND' });",
        loader: 'js',
      }));
    },
  };
}

/** `charm.js` -> files `charm.<name>-<HASH>.js`: the chunks of that entry. */
function chunkPattern(outfile) {
  const base = path.basename(outfile, '.js').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${base}\\.[\\w.-]+-[A-Z0-9]{8}\\.js$`);
}

/** What every file of ours is: CommonJS for the bundled Node 20, small, names kept. */
const NODE_OUTPUT = {
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  // Shorter local names: less to parse in every hook (~0.6 ms for the entry and its chunk).
  // keepNames keeps what the framework keys on (class names as handles, in the unit state).
  minifyIdentifiers: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
};
const NODE_BUNDLE = { ...NODE_OUTPUT, bundle: true };

/** Next to the bundles: their format, for node (pack.mjs ships the file as written here). */
const DIST_PACKAGE_JSON = '{ "type": "commonjs" }\n';

/** One split ESM output file as CommonJS (see the top of this file). */
async function toCommonJs(code) {
  const result = await esbuild.transform(code, {
    ...NODE_OUTPUT,
    // The build before this one kept the names already (its __name calls are in `code`); a
    // second keepNames would name every function twice, the second time after its minified name.
    keepNames: false,
    // import() of a sibling chunk or a built-in becomes Promise.resolve().then(() => require(...)).
    supported: { 'dynamic-import': false },
  });
  return result.code;
}

/**
 * Writes `outfile` and its chunks (in the same directory), and package.json. Chunks of earlier
 * builds that this one did not write are removed, so a directory never ships stale ones.
 */

export async function bundleCharm({ entry, outfile, charmDir, metafile = false }) {
  const outdir = path.dirname(path.resolve(outfile));
  const base = path.basename(outfile, '.js');
  const result = await esbuild.build({
    entryPoints: { [base]: entry },
    outdir,
    entryNames: '[name]',
    chunkNames: `${base}.[name]-[hash]`,
    splitting: true,
    ...NODE_BUNDLE,
    format: 'esm', // split, then each file to CommonJS below
    write: false,
    metafile: true,
    plugins: [charmMetaPlugin(charmDir), yamlEsmPlugin(), proxyAgentDepsPlugin()],
  });
  mkdirSync(outdir, { recursive: true });
  for (const out of result.outputFiles) writeFileSync(out.path, await toCommonJs(out.text));
  delete result.outputFiles;
  writeFileSync(path.join(outdir, 'package.json'), DIST_PACKAGE_JSON);
  const written = new Set(Object.keys(result.metafile.outputs).map((f) => path.basename(f)));
  const chunk = chunkPattern(outfile);
  for (const f of readdirSync(outdir)) if (chunk.test(f) && !written.has(f)) rmSync(path.join(outdir, f), { force: true });
  if (!metafile) delete result.metafile;
  return result;
}

/**
 * The exporter (src/exporter/main.ts, run by systemd next to the charm): one CommonJS file with
 * only Node built-ins, no chunks and no metadata; it shares the charm's dist/package.json.
 */
export async function bundleExporter({ entry = path.join(ROOT, 'src/exporter/main.ts'), outfile, metafile = false }) {
  return bundleProgram({ entry, outfile, metafile, plugins: [] });
}

/** A program next to the charm: one CommonJS file, no chunks; it shares the charm's dist/package.json. */
async function bundleProgram({ entry, outfile, metafile, plugins }) {
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    ...NODE_BUNDLE,
    metafile,
    plugins,
  });
  writeFileSync(path.join(path.dirname(path.resolve(outfile)), 'package.json'), DIST_PACKAGE_JSON);
  if (!metafile) delete result.metafile;
  return result;
}

/**
 * The copier (src/copier/main.ts, started detached by the charm to copy images into consumer
 * clouds): one CommonJS file with only Node built-ins, like the exporter, but with the OpenStack
 * client, yaml and the proxy agents (their `debug` replaced: see proxyAgentDepsPlugin).
 */
export async function bundleCopier({ entry = path.join(ROOT, 'src/copier/main.ts'), outfile, metafile = false }) {
  return bundleProgram({ entry, outfile, metafile, plugins: [yamlEsmPlugin(), proxyAgentDepsPlugin(), noExecaPlugin()] });
}

/**
 * The copier runs no host program: execa (which src/charm/host.ts loads on a host program's
 * first run, ~100 KiB with its dependencies) is replaced by a module that says so if it is ever loaded.
 */
function noExecaPlugin() {
  return {
    name: 'no-execa',
    setup(build) {
      build.onResolve({ filter: /^execa$/ }, (args) => ({ path: args.path, namespace: 'no-execa' }));
      build.onLoad({ filter: /.*/, namespace: 'no-execa' }, () => ({
        contents: "export function execa() { throw new Error('the copier runs no host program (execa is not bundled in it)'); }",
        loader: 'js',
      }));
    },
  };
}
