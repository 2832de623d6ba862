// Keeping a cloud's images of one name to a number of revisions, without ever deleting the one
// that is published (a consumer may be booting it right now).
import type { OpenStackClient } from './client.js';

export interface PruneResult {
  /** The ids kept, newest first (the protected one included, wherever it ranks). */
  readonly kept: string[];
  /** The ids deleted (or found already gone). */
  readonly deleted: string[];
}

/**
 * Deletes this project's active images called `name` beyond the `keep` newest, except
 * `protectId`, which is never deleted (and does not count against `keep` when it is older).
 * Images in other states (queued, saving, deactivated) are left alone.
 */
export async function pruneImages(client: OpenStackClient, name: string, keep: number, protectId: string | undefined): Promise<PruneResult> {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError('keep must be a positive integer');
  const images = await client.activeImages(name);
  const kept: string[] = [];
  const doomed: string[] = [];
  for (const image of images) {
    if (image.id === protectId || kept.filter((id) => id !== protectId).length < keep) kept.push(image.id);
    else doomed.push(image.id);
  }
  // One at a time: a prune is a few deletions, and Glance need not see them at once.
  for (const id of doomed) await client.deleteImage(id);
  return { kept, deleted: doomed };
}
