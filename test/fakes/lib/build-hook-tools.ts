// Builds what hook-tools/jujuc runs: lib/jujuc.ts (and the juju-sim.ts rules it imports) bundled
// by esbuild into build/fakes/jujuc.cjs, and build/fakes/node, a link to the node running the
// tests (hooks may run with no node on PATH). createUnit calls ensureHookTools; the bundle is
// rebuilt only when one of its inputs is newer, and replaced atomically (test workers race).
//   node --import tsx test/fakes/lib/build-hook-tools.ts   # by hand
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const ENTRY = path.join(ROOT, 'test/fakes/lib/jujuc.ts');
export const HOOK_TOOLS_BUILD_DIR = path.join(ROOT, 'build/fakes');
export const JUJUC_BUNDLE = path.join(HOOK_TOOLS_BUILD_DIR, 'jujuc.cjs');
const INPUTS = path.join(HOOK_TOOLS_BUILD_DIR, 'jujuc.inputs.json');
const NODE_LINK = path.join(HOOK_TOOLS_BUILD_DIR, 'node');

let ensured = false;

const mtime = (file: string): number => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
};

function stale(): boolean {
  const built = existsSync(JUJUC_BUNDLE) ? statSync(JUJUC_BUNDLE).mtimeMs : -Infinity;
  let inputs: string[];
  try {
    inputs = JSON.parse(readFileSync(INPUTS, 'utf8')) as string[];
  } catch {
    return true;
  }
  return inputs.some((f) => mtime(path.join(ROOT, f)) > built);
}

function build(): void {
  const tmp = `${JUJUC_BUNDLE}.${process.pid}.tmp`;
  const res = buildSync({
    entryPoints: [ENTRY],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT,
    legalComments: 'none',
  });
  renameSync(tmp, JUJUC_BUNDLE);
  writeFileSync(`${INPUTS}.${process.pid}`, JSON.stringify(Object.keys(res.metafile!.inputs)));
  renameSync(`${INPUTS}.${process.pid}`, INPUTS);
}

function linkNode(): void {
  try {
    if (readlinkSync(NODE_LINK) === process.execPath) return;
  } catch {
    // missing
  }
  const tmp = `${NODE_LINK}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  symlinkSync(process.execPath, tmp);
  renameSync(tmp, NODE_LINK);
}

/** Makes sure build/fakes/ holds an up-to-date jujuc bundle and the node link. Cheap once built. */
export function ensureHookTools(): void {
  if (ensured) return;
  mkdirSync(HOOK_TOOLS_BUILD_DIR, { recursive: true });
  if (stale()) build();
  linkNode();
  ensured = true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  ensureHookTools();
  console.log(`${JUJUC_BUNDLE} ${(statSync(JUJUC_BUNDLE).size / 1024).toFixed(0)} KiB; node ${readlinkSync(NODE_LINK)}`);
}
