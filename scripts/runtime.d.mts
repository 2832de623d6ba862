// Types for scripts/runtime.mjs (the packed Node.js runtime: xz by the pack, unpacked by dispatch).
export const RUNTIME: 'node/bin/node';
export const RUNTIME_XZ: 'node/bin/node.xz';
export const RUNTIME_ID: 'node/bin/node.id';
export const DEFAULT_CACHE_DIR: string;
export class RuntimeError extends Error {}
/** The fixed xz options of the pack for a Node.js architecture (process.arch). */
export function xzArgs(arch?: string): string[];
/** spawnSync of xz without the user's XZ_DEFAULTS and XZ_OPT. */
export function xz(args: string[], opts?: import('node:child_process').SpawnSyncOptions): import('node:child_process').SpawnSyncReturns<Buffer>;
export function sha256(data: string | Uint8Array): string;
/** Why `dir` must not hold the cache (another user could write there), or undefined. */
export function cacheDirProblem(dir: string): string | undefined;
export interface CompressedRuntime {
  data: Buffer;
  /** sha256 (hex) of the input: node/bin/node.id. */
  id: string;
  args: string[];
  version: string;
  cached: boolean;
  ms: number;
}
export function compressRuntime(input: Buffer, opts?: { arch?: string; cacheDir?: string | null; log?: (message: string) => void }): Promise<CompressedRuntime>;
/** Runs a packed charm dir's own dispatch once, outside Juju, so that it unpacks node/bin/node.xz. */
export function unpackRuntime(charmDir: string): { node: string; unpacked: boolean; ms: number };
/** The file's bytes, or undefined when it does not exist. */
export function readOptional(file: string): Buffer | undefined;
