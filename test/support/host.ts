// Host-side assertions: snapshot a directory tree (content hash, mode, mtime, owner) and diff
// two snapshots, e.g. to prove a hook left the simulated host (CHARM_HOST_ROOT) untouched.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export interface TreeEntry {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  /** sha256 of a file's content, of a symlink's target text; '' for directories. */
  readonly sha256: string;
  /** Permission bits only (mode & 0o7777). */
  readonly mode: number;
  readonly mtimeMs: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
}

/** Path relative to the snapshot root ('/'-separated) → entry. The root itself is not listed. */
export type TreeSnapshot = Record<string, TreeEntry>;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export function snapshotTree(dir: string): TreeSnapshot {
  const out: TreeSnapshot = {};
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const childAbs = path.join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const st = lstatSync(childAbs);
      const base = { mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid, size: st.size };
      if (st.isSymbolicLink()) out[childRel] = { type: 'symlink', sha256: sha256(readlinkSync(childAbs)), ...base };
      else if (st.isDirectory()) {
        out[childRel] = { type: 'dir', sha256: '', ...base };
        walk(childAbs, childRel);
      } else if (st.isFile()) out[childRel] = { type: 'file', sha256: sha256(readFileSync(childAbs)), ...base };
      else out[childRel] = { type: 'other', sha256: '', ...base };
    }
  };
  walk(dir, '');
  return out;
}

export type TreeField = keyof TreeEntry;

export interface TreeDiff {
  readonly added: string[];
  readonly removed: string[];
  /** Paths whose entry differs, with the fields that differ (mtimeMs only if asked for). */
  readonly changed: { path: string; fields: TreeField[] }[];
}

/**
 * What changed from `before` to `after`. mtime is ignored unless `compareMtime`; a directory's
 * size and mtime change whenever an entry is added, so directories compare type/mode/owner only.
 */
export function diffTrees(before: TreeSnapshot, after: TreeSnapshot, opts: { compareMtime?: boolean } = {}): TreeDiff {
  const fields: TreeField[] = ['type', 'sha256', 'mode', 'uid', 'gid', 'size', ...(opts.compareMtime ? (['mtimeMs'] as const) : [])];
  const added = Object.keys(after).filter((p) => !(p in before)).sort();
  const removed = Object.keys(before).filter((p) => !(p in after)).sort();
  const changed: TreeDiff['changed'] = [];
  for (const p of Object.keys(after).sort()) {
    const a = before[p];
    const b = after[p];
    if (!a || !b) continue;
    const relevant = a.type === 'dir' && b.type === 'dir' ? fields.filter((f) => f !== 'size' && f !== 'mtimeMs') : fields;
    const differing = relevant.filter((f) => a[f] !== b[f]);
    if (differing.length > 0) changed.push({ path: p, fields: differing });
  }
  return { added, removed, changed };
}

/** True when nothing was added, removed or changed. */
export function isEmptyDiff(diff: TreeDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined/false. */
export async function waitUntil<T>(check: () => T | undefined | false, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs ?? 120_000} ms waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 25));
  }
}
