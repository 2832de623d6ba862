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

/** Peer data and stored state: `{ "<base>": { id, name, createdAt } }`; junk reads as nothing. */
export function parseImages(text: string | undefined): ImagesByBase {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '{}');
  } catch {
    return {};
  }
  const out: ImagesByBase = {};
  if (!raw || typeof raw !== 'object') return out;
  for (const base of BASES) {
    const i = (raw as Record<string, unknown>)[base] as Record<string, unknown> | undefined;
    if (i && typeof i.id === 'string' && IMAGE_ID.test(i.id) && typeof i.name === 'string' && typeof i.createdAt === 'string') {
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
