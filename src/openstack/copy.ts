// Copying an image from one cloud (project) into others, streamed: the source's data is piped
// from GET /v2/images/<id>/file into PUT /v2/images/<new>/file with backpressure, so memory stays
// at a few stream windows whatever the image's size, and nothing touches the disk. A copy is
// accepted only when Glance's hash of what it stored equals the source's; anything else is
// deleted and tried again. A copy that is stopped (its signal aborted) deletes its unfinished
// image too, and tries nothing more.
import { Transform, type TransformCallback } from 'node:stream';
import type { OpenStackClient } from './client.js';
import { OpenStackError } from './errors.js';
import type { ImageDetails } from './glance.js';

/** Base fields a copy takes from its source (the hw_* and os_* properties come too; see copiedFields). */
const COPIED_FIELDS = ['name', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'architecture'] as const;
/** os_* properties Glance sets itself (read-only) or reserves: never sent. */
const NOT_COPIED = /^(os_hash_algo|os_hash_value|os_glance_.*)$/;

export const DEFAULT_COPY_ATTEMPTS = 3;
export const DEFAULT_COPY_CONCURRENCY = 3;
/**
 * Node flags for the process that runs copies. Each socket read of image data is a fresh 64 KiB
 * buffer, freed only when V8 collects its small JS wrapper; V8 lets ~30 MiB of them pile up
 * before it does, and the allocator keeps what it once held (measured: peak RSS 88 MB copying
 * 128 MiB, 61-65 MB with this). With gc exposed, the copy asks for a young-generation collection
 * (a scavenge of a near-empty young heap) every GC_EVERY_BYTES moved. Without the flag, copies
 * work the same, with the higher, still constant, peak.
 */
export const COPY_NODE_FLAGS: readonly string[] = ['--expose-gc'];
const GC_EVERY_BYTES = 2 * 1024 * 1024;

/** Failures a new try cannot fix: the credentials, the catalog, the settings. */
const FINAL_KINDS = new Set(['auth', 'catalog', 'config']);
/** Stream window per side: large enough that the two sockets rarely wait on each other, small enough to ignore. */
const WINDOW_BYTES = 64 * 1024;

export interface CopyOptions {
  /** Tries per destination before it counts as failed (default 3). */
  readonly attempts?: number;
  /** Told about each failed try that is retried (for logs); the error is safe to show. */
  readonly onRetry?: (cloud: string, attempt: number, error: OpenStackError) => void;
  /**
   * Stops the copy when aborted: the try under way ends and its unfinished image is deleted, and
   * no other try (nor, in copyToClouds, destination) starts. The copy then fails as "stopped".
   */
  readonly signal?: AbortSignal;
}

export interface CopyToCloudsOptions extends CopyOptions {
  /** Copies running at once, across destinations (default 3). */
  readonly concurrency?: number;
  /** Told about each destination as soon as it is done, while the others go on. */
  readonly onResult?: (result: CopyResult) => void;
}

/** A verified copy. */
export interface CopiedImage {
  /** The destination cloud's name. */
  readonly cloud: string;
  readonly id: string;
  readonly name: string;
  readonly bytes: number;
  /** From the first try's start to the accepted copy. */
  readonly durationMs: number;
  /** 1 when the first try was accepted. */
  readonly attempts: number;
}

export type CopyResult =
  | { readonly cloud: string; readonly ok: true; readonly image: CopiedImage }
  | { readonly cloud: string; readonly ok: false; readonly error: OpenStackError; readonly durationMs: number };

/**
 * The fields and properties a copy of `source` is created with: its name, disk_format,
 * container_format, min_disk, min_ram, architecture and its hw_* and os_* properties (not the
 * read-only os_hash_algo/os_hash_value, nor the reserved os_glance_*). Null values are left out.
 */
export function copiedFields(source: ImageDetails): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source.fields)) {
    if (value === null || value === undefined) continue;
    const copied = (COPIED_FIELDS as readonly string[]).includes(key) || /^hw_/.test(key) || (/^os_/.test(key) && !NOT_COPIED.test(key));
    if (copied) out[key] = value;
  }
  return out;
}

/**
 * Copies image `imageId` of `source`'s project into `destination`'s, verified by hash; a failed
 * or mismatched try is deleted and retried. Throws an OpenStackError (kind 'copy' after the last
 * try, naming each try's failure; the source's own errors when the source image is unusable).
 */
export async function copyImage(source: OpenStackClient, imageId: string, destination: OpenStackClient, options: CopyOptions = {}): Promise<CopiedImage> {
  return copyVerified(source, await sourceImage(source, imageId), destination, options);
}

/**
 * Copies the image into every destination, at most `concurrency` at once; one destination
 * failing does not stop the others. Results come back in the order of `destinations` (and each
 * through onResult as it finishes). The source image is read once for its details, then once per
 * try. Throws only when the source image itself cannot be used.
 */
export async function copyToClouds(
  source: OpenStackClient,
  imageId: string,
  destinations: readonly OpenStackClient[],
  options: CopyToCloudsOptions = {},
): Promise<CopyResult[]> {
  const image = await sourceImage(source, imageId);
  const limit = options.concurrency ?? DEFAULT_COPY_CONCURRENCY;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('concurrency must be a positive integer');
  const results = new Array<CopyResult>(destinations.length);
  let next = 0;
  const worker = async () => {
    while (next < destinations.length) {
      const i = next++;
      const destination = destinations[i]!;
      const t0 = performance.now();
      let result: CopyResult;
      try {
        result = { cloud: destination.cloudName, ok: true, image: await copyVerified(source, image, destination, options) };
      } catch (err) {
        result = { cloud: destination.cloudName, ok: false, error: asCopyError(err, destination.cloudName), durationMs: performance.now() - t0 };
      }
      results[i] = result;
      options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, destinations.length) }, worker));
  return results;
}

/**
 * Whether two images hold the same data, by the hash Glance computed for each: os_hash_value
 * when both use the same os_hash_algo, else the MD5 checksum; undefined when neither can tell.
 */
export function sameData(a: ImageDetails, b: ImageDetails): boolean | undefined {
  if (a.size !== undefined && b.size !== undefined && a.size !== b.size) return false;
  if (a.hashAlgo && a.hashValue && b.hashAlgo === a.hashAlgo && b.hashValue) return a.hashValue === b.hashValue;
  if (a.checksum && b.checksum) return a.checksum === b.checksum;
  return undefined;
}

/**
 * The newest active image of `client`'s project called like `source` that holds the same data
 * (sameData), or null: a copy that is already there need not move again.
 */
export async function findIdenticalImage(client: OpenStackClient, source: ImageDetails): Promise<ImageDetails | null> {
  for (const candidate of await client.activeImages(source.name)) {
    const image = await client.getImage(candidate.id);
    if (image && image.status === 'active' && sameData(source, image) === true) return image;
  }
  return null;
}

/** The source image, which must exist and be active (a copy of anything else would be useless). */
async function sourceImage(source: OpenStackClient, imageId: string): Promise<ImageDetails> {
  const image = await source.getImage(imageId);
  if (image && image.status === 'active') return image;
  throw new OpenStackError({
    kind: 'copy',
    cloud: source.cloudName,
    detail: image
      ? `image ${imageId} cannot be copied: its status is ${image.status}, not active`
      : `image ${imageId} cannot be copied: it does not exist (or this project cannot see it)`,
  });
}

async function copyVerified(source: OpenStackClient, image: ImageDetails, destination: OpenStackClient, options: CopyOptions): Promise<CopiedImage> {
  const attempts = options.attempts ?? DEFAULT_COPY_ATTEMPTS;
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError('attempts must be a positive integer');
  const t0 = performance.now();
  const failures: string[] = [];
  const { signal } = options;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (signal?.aborted) throw stoppedError(destination.cloudName, failures);
    try {
      const { id, bytes } = await copyOnce(source, image, destination, signal);
      return { cloud: destination.cloudName, id, name: image.name, bytes, durationMs: performance.now() - t0, attempts: attempt };
    } catch (err) {
      const error = asCopyError(err, destination.cloudName);
      if (signal?.aborted) throw stoppedError(destination.cloudName, [...failures, `try ${attempt}: ${error.message}`]);
      failures.push(`try ${attempt}: ${error.message}`);
      if (FINAL_KINDS.has(error.kind)) break;
      if (attempt < attempts) options.onRetry?.(destination.cloudName, attempt, error);
    }
  }
  const times = failures.length === 1 ? 'once (not retried: another try cannot fix it)' : `${failures.length} times`;
  throw new OpenStackError({
    kind: 'copy',
    cloud: destination.cloudName,
    detail: `copying image ${image.id} (${image.name}) from cloud ${JSON.stringify(source.cloudName)} failed ${times}; ${failures.join('; ')}`,
  });
}

/** A copy stopped through its signal; `tries` says what the tries under way came to (its unfinished image deleted, or not). */
function stoppedError(cloud: string, tries: readonly string[]): OpenStackError {
  return new OpenStackError({ kind: 'copy', cloud, detail: `the copy was stopped${tries.length ? ` (${tries.join('; ')})` : ''}` });
}

/** One try: create, stream, verify; on any failure (a stop included) the new image is deleted before the error goes on. */
async function copyOnce(source: OpenStackClient, image: ImageDetails, destination: OpenStackClient, signal: AbortSignal | undefined): Promise<{ id: string; bytes: number }> {
  const created = await destination.createImage(copiedFields(image));
  try {
    if (signal?.aborted) throw new Error('stopped before its data was sent');
    const bytes = await streamData(source, image, destination, created.id, signal);
    await verify(image, destination, created.id, bytes);
    return { id: created.id, bytes };
  } catch (err) {
    let leftover = '';
    try {
      await destination.deleteImage(created.id);
    } catch (deleteErr) {
      leftover = `; the unfinished copy ${created.id} could not be deleted either (${(deleteErr as Error).message})`;
    }
    if (!leftover) throw err;
    throw new OpenStackError({ kind: 'copy', cloud: destination.cloudName, detail: `${asCopyError(err, destination.cloudName).message}${leftover}` });
  }
}

/** Pipes the source's data into the new image; returns the bytes moved. An abort of `signal` breaks both streams off. */
async function streamData(source: OpenStackClient, image: ImageDetails, destination: OpenStackClient, id: string, signal: AbortSignal | undefined): Promise<number> {
  const counter = new ByteCounter(image.size, source.cloudName);
  const download = await source.downloadImage(image.id, () => counter.bytes);
  const stop = () => {
    download.body.destroy();
    counter.destroy(new Error(`stopped after ${counter.bytes} bytes`));
  };
  if (signal?.aborted) stop();
  signal?.addEventListener('abort', stop, { once: true });
  // pipe(), not pipeline(): a failing upload must not destroy the download with its own error,
  // so that an 'error' here is always the source's.
  let sourceError: Error | undefined;
  download.body.on('error', (err) => {
    sourceError ??= err;
    counter.destroy(err);
  });
  download.body.pipe(counter);
  try {
    // The signal ends the PUT itself too: a body already sent whole waits on Glance's answer.
    await destination.uploadImage(id, counter, image.size ?? download.size, () => counter.bytes, signal);
  } catch (err) {
    download.body.destroy();
    if (counter.overflow) throw counter.overflow;
    if (signal?.aborted) throw new Error(`stopped after ${counter.bytes} bytes`, { cause: err });
    if (sourceError) {
      throw new OpenStackError({
        kind: 'network',
        cloud: source.cloudName,
        detail: `GET image ${image.id}'s data broke off after ${counter.bytes} bytes (${errorText(sourceError)})`,
      });
    }
    throw err;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  return counter.bytes;
}

/** Accepts the copy only when Glance stored it whole and its hash equals the source's. */
async function verify(image: ImageDetails, destination: OpenStackClient, id: string, bytes: number): Promise<void> {
  const copy = await destination.getImage(id);
  const fail = (what: string) => new OpenStackError({ kind: 'copy', cloud: destination.cloudName, detail: `the copy ${id} of image ${image.id} ${what}` });
  if (!copy) throw fail('is gone right after its upload');
  if (copy.status !== 'active') throw fail(`is ${copy.status} after its upload, not active`);
  if (image.size !== undefined && (copy.size !== image.size || bytes !== image.size)) {
    throw fail(`holds ${copy.size ?? 'no'} bytes (${bytes} sent) where the source holds ${image.size}`);
  }
  if (image.hashAlgo && image.hashValue && copy.hashAlgo === image.hashAlgo && copy.hashValue) {
    if (copy.hashValue !== image.hashValue) throw fail(`has a different ${image.hashAlgo} hash than the source`);
    return;
  }
  if (image.checksum && copy.checksum) {
    if (copy.checksum !== image.checksum) throw fail('has a different checksum (MD5) than the source');
    return;
  }
  throw fail('cannot be verified: the two clouds share neither os_hash_algo nor a checksum');
}

/** The error of a failed try as an OpenStackError (stream errors, which carry no secrets, included). */
function asCopyError(err: unknown, cloud: string): OpenStackError {
  if (err instanceof OpenStackError) return err;
  return new OpenStackError({ kind: 'copy', cloud, detail: `the copy failed: ${err instanceof Error ? err.message : String(err)}`, cause: err });
}

/** A minor GC, when the process was started with --expose-gc (COPY_NODE_FLAGS); otherwise nothing. */
const exposedGc = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc;
const collectYoung = exposedGc ? () => exposedGc({ type: 'minor' }) : undefined;

/** A low-level error's code, or its message (these carry no secrets: socket and stream errors). */
function errorText(err: Error): string {
  return (err as Error & { code?: string }).code ?? err.message;
}

/** Passes data through unchanged, counting it; refuses more bytes than the source image holds. */
class ByteCounter extends Transform {
  bytes = 0;
  /** Set when the source sent more than its image holds. */
  overflow: OpenStackError | undefined;
  #sinceGc = 0;

  constructor(
    private readonly expected: number | undefined,
    private readonly cloud: string,
  ) {
    super({ highWaterMark: WINDOW_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.#sinceGc += chunk.length;
    if (this.#sinceGc >= GC_EVERY_BYTES) {
      this.#sinceGc = 0;
      collectYoung?.();
    }
    if (this.expected !== undefined && this.bytes > this.expected) {
      this.overflow = new OpenStackError({ kind: 'copy', cloud: this.cloud, detail: `the source sent more than the ${this.expected} bytes its image holds` });
      callback(this.overflow);
      return;
    }
    callback(null, chunk);
  }
}
