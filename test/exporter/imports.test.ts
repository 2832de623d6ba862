// The exporter is its own small program: what it shares with the charm is in src/shared, and its
// bundle takes no module of the charm, the framework or the OpenStack client (issue 21). The
// lint rule in eslint.config.js says the same of each import; this checks what esbuild bundles.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { bundleExporter } from '../../scripts/bundle.mjs';
import { REPO, tempDir } from './exporter.js';

it('dist/exporter.js is built from src/exporter and src/shared only', async () => {
  const dir = tempDir('exporter-imports');
  try {
    const { metafile } = await bundleExporter({ entry: path.join(REPO, 'src/exporter/main.ts'), outfile: path.join(dir, 'dist/exporter.js'), metafile: true });
    const inputs = Object.keys(metafile!.inputs).map((f) => path.relative(REPO, path.resolve(REPO, f)));
    expect(inputs.length).toBeGreaterThan(3);
    expect(inputs.filter((f) => !/^src\/(exporter|shared)\//.test(f))).toEqual([]);
    expect(inputs).toContain('src/shared/metrics-files.ts');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
