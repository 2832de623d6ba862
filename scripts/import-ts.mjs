// Imports a TypeScript module (and what it imports) on plain Node 20: esbuild bundles it into a
// temp .mjs, which is imported. Used by `npm start` and `npm run bench` to reuse test/support.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

export async function importTs(entry) {
  // Next to the source, so its packages resolve from the repo's node_modules; removed after.
  const outfile = path.join(path.dirname(path.resolve(entry)), `.${path.basename(entry, '.ts')}.${process.pid}.mjs`);
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    plugins: [
      {
        // import.meta.dirname/url in a bundled module must keep naming its own source file
        // (the stand-ins and the repo are found from them).
        name: 'source-location',
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
  try {
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(outfile, { force: true });
  }
}
