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

export interface CloudPort {
  /** The newest active image of each name, or null where there is none (one authentication). */
  findLatestImages(access: CloudAccess, names: readonly string[]): Promise<(ImageInfo | null)[]>;
  /** One image by id with its Glance status, or null when the cloud does not have it. */
  findImage(access: CloudAccess, id: string): Promise<(ImageInfo & { readonly status: string }) | null>;
}

export const openstackCloud: CloudPort = {
  async findLatestImages(access, names) {
    return (await import('./cloud.js')).findLatestImages(access, names);
  },
  async findImage(access, id) {
    return (await import('./cloud.js')).findImage(access, id);
  },
};
