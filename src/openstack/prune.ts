// Keeping a cloud's images of one name to a number of revisions, without ever deleting the ones
// that are published (a consumer may be booting one right now).
import type { OpenStackClient } from './client.js';

export interface PruneResult {
  /** The ids kept, newest first (the protected one included, wherever it ranks). */
  readonly kept: string[];
  /** The ids deleted (or found already gone). */
  readonly deleted: string[];
}

/**
 * Deletes this project's active images called `name` beyond the `keep` newest, except the
 * protected id(s), which are never deleted (an older protected one does not count against
 * `keep`). Images in other states (queued, saving, deactivated) are left alone.
 */
export async function pruneImages(client: OpenStackClient, name: string, keep: number, protect: string | Iterable<string> | undefined): Promise<PruneResult> {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError('keep must be a positive integer');
  const protectedIds = new Set(typeof protect === 'string' ? [protect] : (protect ?? []));
  const images = await client.activeImages(name);
  const kept: string[] = [];
  const doomed: string[] = [];
  images.forEach((image, newer) => (newer < keep || protectedIds.has(image.id) ? kept : doomed).push(image.id));
  // One at a time: a prune is a few deletions, and Glance need not see them at once.
  for (const id of doomed) await client.deleteImage(id);
  return { kept, deleted: doomed };
}
