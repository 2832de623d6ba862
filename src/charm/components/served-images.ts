// ServedImages: the newest image of each base this unit knows and serves, and the shape the
// last applied config gave them (bases in order, arch, build cloud). Relations and peers learn
// of every change through onChange; nothing here talks to Juju or the cloud.
import { BASES, IMAGE_ID, isBaseImage, type Arch, type BaseImage } from '../build-config.js';
import type { ImageInfo } from '../cloud-port.js';
import { mergeNewest, sameImages, type ImagesByBase } from '../images.js';
import { Component, type Parent } from './component.js';
import { checkedState, is } from './stored.js';

/** What relation data is made of, from the last applied config. */
export interface Shape {
  readonly bases: BaseImage[];
  readonly arch: Arch;
  /** The cloud builds go to (absent in state from before it was kept). */
  readonly cloudName?: string;
}

type Stored = {
  images?: ImagesByBase;
  /** Before several bases: the one newest image (read once, as the first base's). */
  image?: ImageInfo;
  publishAs?: Shape;
};

const isImage = is.record({ id: (v) => typeof v === 'string' && IMAGE_ID.test(v), name: is.string, createdAt: is.string });
const isShape = is.record({ bases: (v) => Array.isArray(v) && v.length > 0 && v.every(isBaseImage), arch: is.string, cloudName: is.string }, ['cloudName']);

export class ServedImages extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'images', { images: is.mapOf(isImage, BASES), image: isImage, publishAs: isShape });
  private readonly listeners: ((images: ImagesByBase, why: string) => void)[] = [];

  constructor(parent: Parent) {
    super(parent, 'images');
  }

  /** Called with the merged images whenever they change. */
  onChange(listener: (images: ImagesByBase, why: string) => void): void {
    this.listeners.push(listener);
  }

  /** The newest image per base this unit knows (stored state from before several bases included). */
  known(): ImagesByBase {
    const { images, image } = this.stored.data;
    if (images) return images;
    const base = image?.name.split('-')[0];
    return image && isBaseImage(base) ? { [base]: image } : {};
  }

  get shape(): Shape | undefined {
    return this.stored.data.publishAs;
  }

  /** The image `id` publishes: the first configured base's that exists. */
  served(): ImageInfo | undefined {
    const images = this.known();
    const base = (this.shape?.bases ?? []).find((b) => images[b]);
    return base ? images[base] : undefined;
  }

  /** A reconcile applied a config: true when the bases, their order or the arch changed (relation data changes). */
  applyShape(shape: Shape): boolean {
    const before = this.shape;
    this.stored.set({ publishAs: { bases: [...shape.bases], arch: shape.arch, ...(shape.cloudName ? { cloudName: shape.cloudName } : {}) } });
    return JSON.stringify([before?.bases, before?.arch]) !== JSON.stringify([shape.bases, shape.arch]);
  }

  /**
   * The cloud showed a served image gone (or no longer active): it is replaced by `image`, the
   * newest active one of its name even when older, or dropped when there is none. Listeners hear of it.
   */
  replace(base: BaseImage, image: ImageInfo | undefined, why: string): void {
    const images = { ...this.known(), [base]: image };
    if (!image) delete images[base];
    this.stored.set({ images, image: undefined });
    for (const listener of this.listeners) listener(images, why);
    this.log.warning(`${why}: ${image ? `now serving ${base} image ${image.id}` : `no ${base} image is served until one is built`}`);
  }

  /** Takes in newer images; listeners hear of it when anything changed. */
  learn(images: ImagesByBase, why: string): void {
    const known = this.known();
    const merged = mergeNewest(known, images);
    if (sameImages(known, merged) && this.stored.data.images) return;
    this.stored.set({ images: merged, image: undefined });
    for (const listener of this.listeners) listener(merged, why);
    this.log.info(`${why}: now serving ${JSON.stringify(Object.fromEntries(Object.entries(merged).map(([b, i]) => [b, i.id])))}`);
  }
}
