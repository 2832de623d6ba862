// The newest image of each base, as units know and share it: merging (newest wins), what the
// `image` relation carries (the format Canonical's github-runner reads: docs/image-relation.md)
// and the JSON that travels in peer data. Pure.
import { BASES, IMAGE_ID, imageTags, type Arch, type BaseImage } from './build-config.js';
import type { ImageInfo } from './cloud-port.js';

export type ImagesByBase = Partial<Record<BaseImage, ImageInfo>>;

/** Per base, the newer of the two (by created-at, then id: every unit picks the same). */
export function mergeNewest(a: ImagesByBase, b: ImagesByBase): ImagesByBase {
  const out: ImagesByBase = { ...a };
  for (const base of BASES) {
    const x = a[base];
    const y = b[base];
    if (y && (!x || y.createdAt > x.createdAt || (y.createdAt === x.createdAt && y.id > x.id))) out[base] = y;
  }
  return out;
}

export function sameImages(a: ImagesByBase, b: ImagesByBase): boolean {
  return BASES.every((base) => a[base]?.id === b[base]?.id && a[base]?.createdAt === b[base]?.createdAt);
}

/** The longest peer value the charm reads (a few images' ids, names and times fit many times over). */
export const MAX_PEER_VALUE = 4096;
/** An image name as this charm makes them: `<base>-<application>-<arch>` (Juju application names are short). */
const IMAGE_NAME = /^[a-z0-9.]+-[a-z][a-z0-9-]{0,62}-[a-z0-9]+$/;

/** How far ahead of this unit's clock an image's created-at may be (clock skew between machines). */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
/** An ISO 8601 UTC time as Glance writes it (seconds, optional fraction, Z or +00:00). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * What is wrong with an image's created-at, or undefined: it must be an ISO 8601 time, and not
 * in the future (a year-9999 image would win every later comparison and make its age negative).
 */
export function timeProblem(createdAt: string, now: Date): string | undefined {
  const t = ISO_TIME.test(createdAt) ? Date.parse(createdAt) : NaN;
  if (Number.isNaN(t)) return 'a created-at that is not an ISO 8601 time';
  if (t > now.getTime() + CLOCK_SKEW_MS) return `a created-at in the future (${createdAt})`;
  return undefined;
}

/**
 * Peer data: `{ "<base>": { id, name, createdAt } }`, at most MAX_PEER_VALUE long; junk, a
 * name of another shape and a created-at that is not a time or lies in the future read as nothing.
 */
export function parseImages(text: string | undefined, now: Date = new Date()): ImagesByBase {
  let raw: unknown;
  if ((text?.length ?? 0) > MAX_PEER_VALUE) return {};
  try {
    raw = JSON.parse(text ?? '{}');
  } catch {
    return {};
  }
  const out: ImagesByBase = {};
  if (!raw || typeof raw !== 'object') return out;
  for (const base of BASES) {
    const i = (raw as Record<string, unknown>)[base] as Record<string, unknown> | undefined;
    if (i && typeof i.id === 'string' && IMAGE_ID.test(i.id) && typeof i.name === 'string' && IMAGE_NAME.test(i.name) && typeof i.createdAt === 'string' && !timeProblem(i.createdAt, now)) {
      out[base] = { id: i.id, name: i.name, createdAt: i.createdAt };
    }
  }
  return out;
}

/**
 * A unit's `image` databag: `id` and `tags` (`<arch>,<base>`) of the first configured base that
 * has an image, `images` (JSON list of `{id, tags}`, one per base in the configured order) and,
 * for people, `name` and `created-at` of the `id` image. Empty when no base has an image.
 */
export function imageRelationData(images: ImagesByBase, bases: readonly BaseImage[], arch: Arch): Record<string, string> {
  const known = bases.filter((b) => images[b]);
  const first = known[0];
  if (!first) return {};
  const image = images[first]!;
  return {
    id: image.id,
    tags: imageTags(arch, first),
    images: JSON.stringify(known.map((b) => ({ id: images[b]!.id, tags: imageTags(arch, b) }))),
    name: image.name,
    'created-at': image.createdAt,
  };
}
