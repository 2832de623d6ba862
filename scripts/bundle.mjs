// Bundles a charm entry point into one ESM file with its metadata embedded, so a hook neither
// resolves node_modules nor parses YAML at start-up. Used by `npm run build` and by tests that
// build the framework's test charm.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { parse } from 'yaml';

/** Reads metadata.yaml, config.yaml and actions.yaml the same way src/ops/meta.ts does. */
function readYaml(charmDir, file) {
  try {
    return parse(readFileSync(path.join(charmDir, file), 'utf8')) ?? {};
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
}

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
        const docs = ['metadata.yaml', 'config.yaml', 'actions.yaml'].map((f) => readYaml(charmDir, f));
        return {
          resolveDir: process.cwd(),
          contents: `import { charmMetaFrom } from ${JSON.stringify(path.resolve('src/ops/meta.ts'))};
export default charmMetaFrom(${docs.map((d) => JSON.stringify(d)).join(', ')});`,
          loader: 'ts',
        };
      });
    },
  };
}

export async function bundleCharm({ entry, outfile, charmDir, metafile = false }) {
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile,
    plugins: [charmMetaPlugin(charmDir)],
    // Some dependencies call require() for Node built-ins; give the ESM bundle one.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return result;
}
