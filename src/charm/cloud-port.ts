// What the charm asks of the cloud, as an interface the charm is given (the real OpenStack
// client by default, an in-memory cloud in tests). The client loads on first use: hooks that
// never ask the cloud do not pay for it.

export interface ImageInfo {
  readonly id: string;
  readonly name: string;
  /** ISO 8601, as Glance reports it. */
  readonly createdAt: string;
}

/** Which cloud to ask, and how to reach it. */
export interface CloudAccess {
  readonly cloudsYaml: string;
  readonly cloudName: string;
  /** The model's proxy settings (juju-http-proxy ...). */
  readonly proxy: { readonly http?: string; readonly https?: string; readonly noProxy?: string };
}

/** A published image as the cloud has it now: gone (null) or its status, and, when it is not active, the newest active image of its name. */
export interface PublishedCheck {
  readonly id: string;
  readonly found: (ImageInfo & { readonly status: string }) | null;
  /** Only asked for when `found` is not an active image: what could take its place. */
  readonly latest?: ImageInfo | null;
}

export interface CloudPort {
  /** The newest active image of each name, or null where there is none (one authentication). */
  findLatestImages(access: CloudAccess, names: readonly string[]): Promise<(ImageInfo | null)[]>;
  /** One image by id with its Glance status, or null when the cloud does not have it. */
  findImage(access: CloudAccess, id: string): Promise<(ImageInfo & { readonly status: string }) | null>;
  /** Checks published images (one Glance GET each, one authentication for them all). */
  checkPublished(access: CloudAccess, images: readonly { readonly id: string; readonly name: string }[]): Promise<PublishedCheck[]>;
}

export const openstackCloud: CloudPort = {
  async findLatestImages(access, names) {
    return (await import('./cloud.js')).findLatestImages(access, names);
  },
  async findImage(access, id) {
    return (await import('./cloud.js')).findImage(access, id);
  },
  async checkPublished(access, images) {
    return (await import('./cloud.js')).checkPublished(access, images);
  },
};
