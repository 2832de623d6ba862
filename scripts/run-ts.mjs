// Runs a TypeScript script (e.g. scripts/try.ts) on plain Node 20: esbuild bundles it, with its
// imports, into a temp .mjs next to it, which is then imported. No TS runtime dependency.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
const out = path.join(path.dirname(path.resolve(entry)), `.${path.basename(entry, '.ts')}.${process.pid}.mjs`);
await esbuild.build({
  entryPoints: [entry],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  plugins: [
    {
      // import.meta.dirname/url in a bundled module must keep naming its own source file.
      name: 'source-dirname',
      setup(build) {
        build.onLoad({ filter: /\.ts$/ }, (args) => ({
          contents: readFileSync(args.path, 'utf8')
            .replaceAll('import.meta.dirname', JSON.stringify(path.dirname(args.path)))
            .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
          loader: 'ts',
        }));
      },
    },
  ],
});
process.argv = [process.argv[0], path.resolve(entry), ...rest];
try {
  await import(pathToFileURL(out).href);
} finally {
  rmSync(out, { force: true });
}
