// Builds a charm directory the way the packed charm lays it out (dispatch, hooks, YAML files,
// dist/charm.js) in a temp dir, so process-level tests run exactly what Juju would run.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleCharm } from '../../scripts/bundle.mjs';

const repo = path.resolve(import.meta.dirname, '../..');

export async function buildCharmDir(opts: { entry: string; yamlDir: string }): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'charm-'));
  for (const f of ['metadata.yaml', 'config.yaml', 'actions.yaml']) copyFileSync(path.join(opts.yamlDir, f), path.join(dir, f));
  copyFileSync(path.join(repo, 'dispatch'), path.join(dir, 'dispatch'));
  mkdirSync(path.join(dir, 'hooks'));
  for (const hook of ['install', 'start', 'upgrade-charm', 'config-changed']) symlinkSync('../dispatch', path.join(dir, 'hooks', hook));
  await bundleCharm({ entry: path.resolve(repo, opts.entry), outfile: path.join(dir, 'dist/charm.js'), charmDir: opts.yamlDir });
  return dir;
}

/** The real charm. */
export const buildImageBuilderCharmDir = () => buildCharmDir({ entry: 'src/charm/main.ts', yamlDir: repo });
/** The framework's test charm. */
export const buildRecorderCharmDir = () => buildCharmDir({ entry: 'test/charms/recorder/main.ts', yamlDir: path.join(repo, 'test/charms/recorder') });

/** A copy of a built charm dir, so each simulated unit has its own state file. */
export function copyCharmDir(dir: string): string {
  const copy = mkdtempSync(path.join(tmpdir(), 'charm-'));
  cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
  return copy;
}
