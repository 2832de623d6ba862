// npm run build: dist/charm.js and its chunks (modules only some hooks load),
// dist/exporter.js (the metrics exporter systemd runs) and dist/copier.js (the image copier the
// charm starts); no node_modules.
import { statSync } from 'node:fs';
import { bundleCharm, bundleCopier, bundleExporter } from './bundle.mjs';

const outfile = 'dist/charm.js';
await bundleCharm({ entry: 'src/charm/main.ts', outfile, charmDir: '.' });
console.log(`${outfile} ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
const exporter = 'dist/exporter.js';
await bundleExporter({ outfile: exporter });
console.log(`${exporter} ${(statSync(exporter).size / 1024).toFixed(0)} KiB`);
const copier = 'dist/copier.js';
await bundleCopier({ outfile: copier });
console.log(`${copier} ${(statSync(copier).size / 1024).toFixed(0)} KiB`);
