// Types for scripts/bundle.mjs, used by tests that bundle a charm.
import type { BuildResult } from 'esbuild';
export function bundleCharm(opts: { entry: string; outfile: string; charmDir: string; metafile?: boolean }): Promise<BuildResult>;
/** Writes the exporter (src/exporter/main.ts unless `entry`) as one CommonJS file, `outfile`. */
export function bundleExporter(opts: { entry?: string; outfile: string; metafile?: boolean }): Promise<BuildResult>;
/** Writes the copier (src/copier/main.ts unless `entry`), `outfile`. */
export function bundleCopier(opts: { entry?: string; outfile: string; metafile?: boolean }): Promise<BuildResult>;
