// The copier (issue 20), bundled to dist/copier.js and started by the charm (src/charm/copies.ts,
// startCopies) detached, under its own lock, with COPY_NODE_FLAGS and no arguments:
//
//   node --expose-gc <charm>/dist/copier.js
//
// It reads the request (COPY_REQUEST_PATH), the build cloud from CLOUDS_YAML_PATH and the
// consumer clouds from CONSUMER_CLOUDS_PATH (the proxy from JUJU_CHARM_*_PROXY in its
// environment), and gives every consumer cloud the newest image of every base: an identical
// image already there is reused (no data moves), anything else is copied, streamed and verified
// (copyToClouds: 3 tries, 3 at once). After a copy it prunes that name in that cloud to `keep`,
// never deleting the new image nor one the charm publishes. Then it writes COPY_RESULT_PATH and
// copies-<cloud>.json (the exporter's), logs each outcome to COPY_LOG_PATH, and runs again while
// the request changed meanwhile; the request it served goes to COPY_SERVED_PATH. The report to
// the charm (juju-exec, copies_done) is made by the loop around it, once the lock is released.
//
// SIGTERM (stop and remove: stopCopies) stops it: the copies under way break off and delete their
// unfinished images in the consumer clouds, nothing new starts, nothing is pruned, and no result
// or metrics are written (a stop is not a failed copy). It exits 1 once that is done, well within
// the grace period before SIGKILL.
//
// Files are under CHARM_HOST_ROOT when it is set (tests). Nothing secret is written or logged:
// OpenStack errors are scrubbed of passwords and tokens where they are made (src/openstack).
// Exit codes: 0 the request was served (copies may have failed: the result says), 1 it was not
// (no request, an invalid one, or an unexpected error).
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import {
  outcomeError,
  parseCopyRequest,
  updateCopiesFile,
  writeCopyResult,
  MAX_COPY_FILE_BYTES,
  type CopyOutcome,
  type CopyRequest,
} from '../charm/copies.js';
import { Host } from '../charm/host.js';
import { CLOUDS_YAML_PATH, CONSUMER_CLOUDS_PATH, COPY_LOG_PATH, COPY_REQUEST_PATH, COPY_SERVED_PATH } from '../charm/paths.js';
import { clientProxy } from '../charm/proxy.js';
import { MAX_CLOUDS_YAML_BYTES, parseCloudsYaml, resolveCloud, type CloudConfig } from '../openstack/clouds.js';
import { OpenStackClient } from '../openstack/client.js';
import { copyToClouds, findIdenticalImage, DEFAULT_COPY_CONCURRENCY } from '../openstack/copy.js';
import { pruneImages } from '../openstack/prune.js';
import type { ImageDetails } from '../openstack/glance.js';

const host = new Host(process.env);
const stop = new AbortController();

/** One line in the copy log, with a timestamp; a log that cannot be written loses the line, not the copy. */
function log(line: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(host.path(COPY_LOG_PATH), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o640);
    writeSync(fd, `${new Date().toISOString()} ${line.replace(/\n/g, ' | ')}\n`);
  } catch {
    // nowhere else to say it: the copier has no stdio
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A cloud from a clouds.yaml on the host, or why it cannot be had (the messages name fields, never values). */
function cloudsFrom(prodPath: string): ((name: string) => CloudConfig) | string {
  const text = host.readText(prodPath, MAX_CLOUDS_YAML_BYTES);
  if (text === undefined) return `${prodPath} is missing (or not a regular file, or larger than ${MAX_CLOUDS_YAML_BYTES} bytes)`;
  try {
    const parsed = parseCloudsYaml(text);
    return (name) => resolveCloud(parsed, name);
  } catch (err) {
    return `${prodPath} cannot be used: ${message(err)}`;
  }
}

/** At most `limit` of `fn` at once over `items`; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

type Destination = { readonly cloud: string; readonly client: OpenStackClient } | { readonly cloud: string; readonly error: string };

/** One base into every cloud: reuse, else copy; then prune. */
async function serveBase(
  request: CopyRequest,
  image: CopyRequest['images'][number],
  source: OpenStackClient,
  destinations: readonly Destination[],
): Promise<CopyOutcome[]> {
  const { base, id: sourceId } = image;
  const failed = (cloud: string, error: string, durationMs = 0): CopyOutcome => ({ cloud, base, sourceId, error: outcomeError(error), durationMs });
  let details: ImageDetails | null;
  try {
    details = await source.getImage(sourceId);
  } catch (err) {
    return destinations.map((d) => failed(d.cloud, `the build cloud's image ${sourceId} cannot be read: ${message(err)}`));
  }
  if (!details || details.status !== 'active') {
    const why = details ? `its status is ${details.status}, not active` : 'it does not exist (or the build project cannot see it)';
    return destinations.map((d) => failed(d.cloud, `the build cloud's image ${sourceId} (${base}) cannot be copied: ${why}`));
  }
  const src = details;
  const outcomes = new Map<string, CopyOutcome>();
  const toCopy: { cloud: string; client: OpenStackClient }[] = [];
  await mapLimit(destinations, DEFAULT_COPY_CONCURRENCY, async (d) => {
    if ('error' in d) return outcomes.set(d.cloud, failed(d.cloud, d.error));
    const t0 = performance.now();
    try {
      const same = await findIdenticalImage(d.client, src);
      if (!same) return toCopy.push(d);
      outcomes.set(d.cloud, { cloud: d.cloud, base, sourceId, image: { id: same.id, name: same.name, createdAt: same.createdAt }, bytes: 0, durationMs: performance.now() - t0, reused: true });
      log(`${base}: ${d.cloud} already has image ${same.id}, identical to the build cloud's ${sourceId}: reused`);
    } catch (err) {
      outcomes.set(d.cloud, failed(d.cloud, message(err), performance.now() - t0));
    }
  });
  if (toCopy.length && !stop.signal.aborted) {
    const results = await copyToClouds(
      source,
      sourceId,
      toCopy.map((d) => d.client),
      {
        onRetry: (cloud, attempt, err) => log(`${base}: copying ${sourceId} into ${cloud}: try ${attempt} failed, trying again: ${err.message}`),
        signal: stop.signal,
      },
    ).catch((err: unknown) => toCopy.map((d) => ({ cloud: d.cloud, ok: false as const, error: err as Error, durationMs: 0 })));
    for (const [i, r] of results.entries()) {
      const cloud = toCopy[i]!.cloud;
      if (!r.ok) {
        outcomes.set(cloud, failed(cloud, message(r.error), r.durationMs));
        log(`${base}: copying ${sourceId} into ${cloud} failed: ${message(r.error)}`);
        continue;
      }
      let createdAt = new Date().toISOString();
      try {
        createdAt = (await toCopy[i]!.client.getImage(r.image.id))?.createdAt ?? createdAt;
      } catch {
        // the copy was verified a moment ago; its time is nearly now
      }
      outcomes.set(cloud, { cloud, base, sourceId, image: { id: r.image.id, name: r.image.name, createdAt }, bytes: r.image.bytes, durationMs: r.image.durationMs });
      log(`${base}: copied ${sourceId} into ${cloud} as ${r.image.id} (${r.image.bytes} bytes in ${(r.image.durationMs / 1000).toFixed(1)} s, ${r.image.attempts} tr${r.image.attempts === 1 ? 'y' : 'ies'})`);
    }
  }
  // Prune where the cloud now has the image: never the one just made or reused, nor a published one.
  for (const d of destinations) {
    const outcome = outcomes.get(d.cloud);
    if (!outcome?.image || 'error' in d || stop.signal.aborted) continue;
    try {
      const pruned = await pruneImages(d.client, image.name, request.keep, [outcome.image.id, ...(request.published[d.cloud] ?? [])]);
      if (pruned.deleted.length) log(`${base}: pruned ${image.name} in ${d.cloud} to ${request.keep}: deleted ${pruned.deleted.join(', ')}`);
    } catch (err) {
      log(`${base}: pruning ${image.name} in ${d.cloud} failed (the copy stands): ${message(err)}`);
    }
  }
  // Every cloud has its outcome, but after a stop (copies not started have none; serve drops all).
  return destinations.flatMap((d) => outcomes.get(d.cloud) ?? []);
}

/** Serves one request: every base into every cloud; the result and the metrics written. False when it was stopped. */
async function serve(request: CopyRequest): Promise<boolean> {
  const proxy = clientProxy(process.env);
  const sources = cloudsFrom(CLOUDS_YAML_PATH);
  const consumers = cloudsFrom(CONSUMER_CLOUDS_PATH);
  let source: OpenStackClient | string;
  try {
    source = typeof sources === 'string' ? sources : new OpenStackClient(sources(request.sourceCloud), { proxy });
  } catch (err) {
    source = `the build cloud cannot be used: ${message(err)}`;
  }
  const destinations: Destination[] = request.clouds.map((cloud) => {
    if (typeof consumers === 'string') return { cloud, error: consumers };
    try {
      return { cloud, client: new OpenStackClient(consumers(cloud), { proxy }) };
    } catch (err) {
      return { cloud, error: message(err) };
    }
  });
  log(`copying ${request.images.map((i) => `${i.base} (${i.id})`).join(', ') || 'no image'} into ${request.clouds.join(', ') || 'no cloud'}`);
  const outcomes: CopyOutcome[] = [];
  for (const image of request.images) {
    if (stop.signal.aborted) break;
    if (typeof source === 'string') {
      const error = outcomeError(source);
      outcomes.push(...request.clouds.map((cloud) => ({ cloud, base: image.base, sourceId: image.id, error, durationMs: 0 })));
      log(`${image.base}: ${source}`);
      continue;
    }
    outcomes.push(...(await serveBase(request, image, source, destinations)));
  }
  if (stop.signal.aborted) {
    const ended = outcomes.filter((o) => o.error !== undefined && /the copy was stopped/.test(o.error)).length;
    log(`stopped: ${ended} cop${ended === 1 ? 'y' : 'ies'} under way ended (their unfinished images deleted unless a line above says otherwise); no result or metrics written`);
    return false;
  }
  writeCopyResult(host, { finishedAt: new Date().toISOString(), outcomes });
  for (const cloud of request.clouds) {
    const mine = outcomes.filter((o) => o.cloud === cloud);
    if (!mine.length) continue;
    try {
      updateCopiesFile(host, cloud, (s) => {
        for (const o of mine) {
          if (o.error === undefined) s.succeeded += 1;
          else s.failed += 1;
        }
        const last = mine[mine.length - 1]!;
        s.last_duration_seconds = Math.round(last.durationMs) / 1000;
        s.last_bytes = last.bytes ?? 0;
      });
    } catch (err) {
      log(`the metrics of ${cloud} cannot be written: ${message(err)}`);
    }
  }
  const failures = outcomes.filter((o) => o.error !== undefined).length;
  log(`done: ${outcomes.length - failures} of ${outcomes.length} copies in place${failures ? `, ${failures} failed` : ''}`);
  return true;
}

async function main(): Promise<number> {
  for (;;) {
    const text = host.readText(COPY_REQUEST_PATH, MAX_COPY_FILE_BYTES);
    if (text === undefined) {
      log(`no request to serve: ${COPY_REQUEST_PATH} is missing, not a regular file or larger than ${MAX_COPY_FILE_BYTES} bytes`);
      return 1;
    }
    const request = parseCopyRequest(text);
    if ('problems' in request) {
      log(`the request in ${COPY_REQUEST_PATH} is refused: ${request.problems.join('; ')}`);
      return 1;
    }
    if (!(await serve(request))) return 1;
    // A request written meanwhile: its startCopies found this copier running and queued it.
    if (host.readText(COPY_REQUEST_PATH, MAX_COPY_FILE_BYTES) !== text) {
      log('the request changed while copying: serving the new one');
      continue;
    }
    host.writeIfChanged(COPY_SERVED_PATH, text, { mode: 0o600, uid: 0, gid: 0 });
    return 0;
  }
}

process.on('SIGTERM', () => {
  log('SIGTERM: stopping; the copies under way end and their unfinished images are deleted');
  stop.abort();
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`the copier failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    process.exit(1);
  },
);
