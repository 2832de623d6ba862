// Image copies between projects against the real Keystone + Glance (scripts/openstack/start.sh):
// the build project is `demo`, the consumers are the suite's runners-a and runners-b projects,
// each with its own member user (as github-runner deployments would send). Outside CI, when the
// services are not running, this file reports NOT RUN; in CI it fails.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  OpenStackClient,
  OpenStackError,
  copyImage,
  copyToClouds,
  parseCloudsYaml,
  pruneImages,
  resolveCloud,
  type CloudConfig,
  type CopyResult,
} from '../../src/openstack/index.js';
import { allText, rejection } from '../support/error-text.js';
import { SuiteImages, consumerCloudsYaml, openstackSuite, type CreatedImage, type SuiteConsumer } from '../support/openstack.js';
import { guardOpenStackSuite } from '../support/openstack-guard.js';
import { startLoopbackProxy, type Forwarded, type LoopbackProxy } from './loopback-proxy.js';

const suite = await openstackSuite();

/** Properties a runner image carries; the copy must have each of them. */
const COPIED = {
  architecture: 'x86_64',
  min_ram: 512,
  min_disk: 3,
  hw_firmware_type: 'uefi',
  hw_disk_bus: 'scsi',
  os_distro: 'ubuntu',
  os_version: '24.04',
  os_type: 'linux',
};
/** A property of the build project's own (neither hw_* nor os_*): not copied. */
const NOT_COPIED = { built_by: 'image-builder-test' };
/** 2 MiB and a bit: several socket writes, and not a round number. */
const DATA = randomBytes(2 * 1024 * 1024 + 4321);

const isUpload = (r: Forwarded) => r.method === 'PUT' && /\/v2\/images\/[^/]+\/file$/.test(r.target);
const isCreate = (r: Forwarded) => r.method === 'POST' && /\/v2\/images$/.test(r.target);
const uploadedId = (r: Forwarded) => /\/v2\/images\/([^/]+)\/file$/.exec(r.target)![1]!;

/** Waits until the wall clock has entered a new second (Glance's created_at has 1 s resolution). */
async function nextSecond(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === now) await new Promise((resolve) => setTimeout(resolve, 20));
}

if (guardOpenStackSuite(suite, 'image copies between projects')) {
  describe('image copies between projects, against real Keystone + Glance', () => {
    const run = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const consumers = suite.consumers;
    const consumerClouds = parseCloudsYaml(consumerCloudsYaml(suite));
    const cloudOf = (c: SuiteConsumer, name = c.cloudName): CloudConfig => ({ ...resolveCloud(consumerClouds, c.cloudName), name });
    const canaries = [suite.canaryPassword, ...consumers.map((c) => c.password)];
    let build: OpenStackClient;
    let demoImages: SuiteImages;
    let adminImages: SuiteImages;
    const consumerImages = new Map<string, SuiteImages>();
    let source: CreatedImage;
    let sourceDetails: Record<string, unknown>;
    let proxy: LoopbackProxy | undefined;

    /** A consumer's client; through the proxy when one is given. */
    const consumerClient = (c: SuiteConsumer, via?: LoopbackProxy, name?: string) =>
      new OpenStackClient(cloudOf(c, name), via ? { proxy: { http: via.url, https: via.url } } : {});
    const imagesOf = (c: SuiteConsumer) => consumerImages.get(c.cloudName)!;

    beforeAll(async () => {
      expect(consumers.length).toBeGreaterThanOrEqual(2);
      build = new OpenStackClient(resolveCloud(parseCloudsYaml(suite.cloudsYaml), suite.cloudName));
      demoImages = await SuiteImages.open(suite, 'demo');
      adminImages = await SuiteImages.open(suite, 'admin');
      for (const c of consumers) consumerImages.set(c.cloudName, await SuiteImages.open(suite, c));
      source = await demoImages.createQueued(`${run}-noble-x64`, { disk_format: 'qcow2', ...COPIED, ...NOT_COPIED });
      await demoImages.upload(source.id, DATA);
      sourceDetails = await demoImages.details(source.id);
    });

    afterEach(async () => {
      await proxy?.close();
      proxy = undefined;
    });

    afterAll(async () => {
      // Copies were made by the code under test: remove every image of this run's names.
      for (const images of [...consumerImages.values(), demoImages]) {
        for (const name of [`${run}-noble-x64`, `${run}-prune`]) {
          for (const { id } of await images.named(name)) images.created.add(id);
        }
        await images.cleanup();
      }
    });

    it('a copy appears in the consumer project, owned by it, with the source hash and properties', async () => {
      const consumer = consumers[0]!;
      const copy = await copyImage(build, source.id, consumerClient(consumer));
      expect(copy).toMatchObject({ cloud: consumer.cloudName, name: source.name, bytes: DATA.length, attempts: 1 });

      // As admin: whose is it, and what did Glance store?
      const stored = await adminImages.details(copy.id);
      expect(stored.owner).toBe(consumer.projectId);
      expect(stored.owner).not.toBe(suite.demo.projectId);
      expect(stored.status).toBe('active');
      expect(stored.size).toBe(DATA.length);
      expect(stored.os_hash_algo).toBe(sourceDetails.os_hash_algo);
      expect(stored.os_hash_value).toBe(sourceDetails.os_hash_value);
      expect(stored.checksum).toBe(sourceDetails.checksum);
      expect(stored).toMatchObject({ name: source.name, disk_format: 'qcow2', container_format: 'bare', ...COPIED });
      expect(stored.built_by).toBeUndefined();

      // The consumer's own user sees it: it can boot it.
      expect(await imagesOf(consumer).status(copy.id)).toBe('active');
      expect((await consumerClient(consumer).activeImages(source.name)).map((i) => i.id)).toContain(copy.id);
    });

    it('an upload cut off mid-stream is deleted and retried; no half image is left', async () => {
      const consumer = consumers[1]!;
      proxy = await startLoopbackProxy({ cut: { match: isUpload, afterBytes: 512 * 1024, times: 1 } });
      const retried: OpenStackError[] = [];
      const before = new Set((await imagesOf(consumer).named(source.name)).map((i) => i.id));

      const copy = await copyImage(build, source.id, consumerClient(consumer, proxy), { onRetry: (_cloud, _n, err) => retried.push(err) });

      expect(proxy.cuts).toHaveLength(1);
      expect(copy.attempts).toBe(2);
      expect(retried).toHaveLength(1);
      expect(retried[0]!.message).toMatch(/broke off after \d+ bytes/);
      const halfId = uploadedId(proxy.cuts[0]!);
      expect(halfId).not.toBe(copy.id);
      // The cut try's image is gone from the API and from Glance's store on disk.
      expect((await adminImages.named(source.name)).map((i) => i.id)).not.toContain(halfId);
      expect(existsSync(join(suite.stateDir, 'glance', 'images', halfId))).toBe(false);
      // In the consumer project: the new copy, active; nothing queued or saving.
      const now = (await imagesOf(consumer).named(source.name)).filter((i) => !before.has(i.id));
      expect(now).toEqual([{ id: copy.id, status: 'active', owner: consumer.projectId }]);
      expect((await adminImages.details(copy.id)).os_hash_value).toBe(sourceDetails.os_hash_value);
    });

    it('every try cut off: one copy error naming each try, nothing left behind, no password or token in it', async () => {
      const consumer = consumers[1]!;
      proxy = await startLoopbackProxy({ cut: { match: isUpload, afterBytes: 64 * 1024, times: 3 } });
      const before = new Set((await adminImages.named(source.name)).map((i) => i.id));

      const err = await rejection(copyImage(build, source.id, consumerClient(consumer, proxy)));

      expect(err.kind).toBe('copy');
      expect(err.cloud).toBe(consumer.cloudName);
      expect(err.message).toMatch(/failed 3 times; try 1: .*broke off.*; try 2: .*; try 3: /);
      expect(proxy.cuts).toHaveLength(3);
      const left = (await adminImages.named(source.name)).filter((i) => !before.has(i.id));
      expect(left).toEqual([]);
      for (const cut of proxy.cuts) expect(existsSync(join(suite.stateDir, 'glance', 'images', uploadedId(cut)))).toBe(false);

      const text = allText(err);
      const tokens = proxy.seen.map((r) => r.token).filter((t): t is string => t !== undefined);
      expect(tokens.length).toBeGreaterThan(0);
      for (const secret of [...canaries, ...tokens]) expect(text).not.toContain(secret);
    });

    // A stop while the data is on the way (the upload held at the proxy), and once Glance has all
    // of it (its answer held): the second is a PUT whose body went whole, which only the signal
    // ends. The client waits 10 minutes for a silent connection, so a stop it missed would hang.
    for (const [when, hold] of [
      ['its upload is on the way', 'gate'],
      ['Glance has its whole upload and has not answered yet', 'holdAnswer'],
    ] as const) {
      it(`a copy stopped while ${when} deletes its unfinished image and tries nothing more`, async () => {
        const consumer = consumers[0]!;
        const stop = new AbortController();
        const held: (() => void)[] = [];
        proxy = await startLoopbackProxy({
          [hold]: async (r: Forwarded) => {
            if (!isUpload(r)) return;
            stop.abort();
            await new Promise<void>((resolve) => held.push(resolve));
          },
        });
        const via = proxy;
        const destination = new OpenStackClient(cloudOf(consumer), { proxy: { http: via.url, https: via.url }, idleTimeoutMs: 600_000 });
        const before = new Set((await adminImages.named(source.name)).map((i) => i.id));

        const err = await rejection(copyImage(build, source.id, destination, { signal: stop.signal }));

        expect(err.kind).toBe('copy');
        expect(err.message).toMatch(/the copy was stopped \(try 1: .*stopped after \d+ bytes\)/);
        expect(err.message).not.toMatch(/could not be deleted/);
        expect(via.seen.filter(isCreate)).toHaveLength(1);
        expect(via.seen.filter(isUpload)).toHaveLength(1);
        expect((await adminImages.named(source.name)).filter((i) => !before.has(i.id))).toEqual([]);
        // copyToClouds starts nothing once stopped.
        const results = await copyToClouds(build, source.id, [destination], { signal: stop.signal });
        expect(results.map((r) => (r.ok ? 'ok' : r.error.message))).toEqual([expect.stringMatching(/: the copy was stopped$/)]);
        expect(via.seen.filter(isCreate)).toHaveLength(1);
        for (const go of held.splice(0)) go();
      });
    }

    it('copyToClouds: at most 3 copies at once, all of them going, each result told as it comes, one token per cloud', async () => {
      // Five destinations (each consumer under several cloud names). A copy is in flight from
      // its image's creation to its upload's answer; uploads are held until as many copies as
      // the limit allows are in flight, so a limit below 3 stalls and one above 3 shows.
      const total = 5;
      let created = 0;
      let answered = 0;
      let most = 0;
      const held: (() => void)[] = [];
      const release = () => {
        if (created - answered >= Math.min(3, total - answered)) for (const go of held.splice(0)) go();
      };
      proxy = await startLoopbackProxy({
        gate: async (r) => {
          if (isCreate(r)) {
            created++;
            most = Math.max(most, created - answered);
          }
          if (!isUpload(r)) return;
          await new Promise<void>((resolve) => {
            held.push(resolve);
            release();
          });
        },
        onAnswered: (r) => {
          if (!isUpload(r)) return;
          answered++;
          release();
        },
      });
      const via = proxy;
      const destinations = Array.from({ length: total }, (_, i) => consumerClient(consumers[i % consumers.length]!, via, `dest-${i}`));
      const told: CopyResult[] = [];

      const results = await copyToClouds(build, source.id, destinations, { onResult: (r) => told.push(r) });

      expect(most).toBe(3);
      // One token per destination client, for all its requests (create, upload, check).
      expect(via.seen.filter((r) => r.method === 'POST' && r.target.endsWith('/auth/tokens'))).toHaveLength(total);
      expect(via.seen.filter((r) => r.hadToken).length).toBeGreaterThanOrEqual(3 * total);
      expect(results.map((r) => r.cloud)).toEqual(destinations.map((d) => d.cloudName));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(new Set(told.map((r) => r.cloud))).toEqual(new Set(results.map((r) => r.cloud)));
      for (const r of results) {
        if (!r.ok) continue;
        expect(r.image.bytes).toBe(DATA.length);
        expect(r.image.durationMs).toBeGreaterThan(0);
        const stored = await adminImages.details(r.image.id);
        expect(stored.os_hash_value).toBe(sourceDetails.os_hash_value);
        expect(consumers.map((c) => c.projectId)).toContain(stored.owner);
      }
    });

    it('copyToClouds: a destination that refuses its credentials fails alone, saying so without the password', async () => {
      const [good, bad] = consumers as [SuiteConsumer, SuiteConsumer];
      const wrong = new OpenStackClient({ ...cloudOf(bad), password: `${bad.password}-wrong` });
      const results = await copyToClouds(build, source.id, [wrong, consumerClient(good)]);
      expect(results[1]!.ok).toBe(true);
      const failed = results[0]!;
      expect(failed.ok).toBe(false);
      if (failed.ok) return;
      expect(failed.error).toBeInstanceOf(OpenStackError);
      expect(failed.error.kind).toBe('copy');
      expect(failed.error.message).toMatch(/authentication failed/);
      for (const secret of [...canaries, `${bad.password}-wrong`]) expect(allText(failed.error)).not.toContain(secret);
    });

    it('a source image that is not active is refused before anything is created', async () => {
      const queued = await demoImages.createQueued(`${run}-noble-x64`);
      const consumer = consumers[0]!;
      const before = (await imagesOf(consumer).named(source.name)).length;
      const err = await rejection(copyImage(build, queued.id, consumerClient(consumer)));
      expect(err.kind).toBe('copy');
      expect(err.message).toContain(`image ${queued.id} cannot be copied: its status is queued, not active`);
      expect((await imagesOf(consumer).named(source.name)).length).toBe(before);
    });

    it('activeImages lists newest first; getImage tells the status; pruneImages keeps the newest and never the protected id', async () => {
      const consumer = consumers[0]!;
      const images = imagesOf(consumer);
      const client = consumerClient(consumer);
      const name = `${run}-prune`;
      const made: CreatedImage[] = [];
      for (let i = 0; i < 4; i++) {
        if (i > 0) await nextSecond();
        made.push(await images.createActive(name));
      }
      const [oldest, second, third, newest] = made as [CreatedImage, CreatedImage, CreatedImage, CreatedImage];
      const queued = await images.createQueued(name);

      expect((await client.activeImages(name)).map((i) => i.id)).toEqual([newest.id, third.id, second.id, oldest.id]);
      expect((await client.getImage(queued.id))?.status).toBe('queued');
      expect((await client.getImage(newest.id))?.status).toBe('active');

      // Keep 2, the oldest protected (published): the two newest and the oldest stay.
      expect(await pruneImages(client, name, 2, oldest.id)).toEqual({ kept: [newest.id, third.id, oldest.id], deleted: [second.id] });
      // Keep 1, still protecting the oldest.
      expect(await pruneImages(client, name, 1, oldest.id)).toEqual({ kept: [newest.id, oldest.id], deleted: [third.id] });
      expect((await client.activeImages(name)).map((i) => i.id)).toEqual([newest.id, oldest.id]);
      expect(await client.getImage(second.id)).toBeNull();
      // Images that are not active are not a prune's business.
      expect(await images.status(queued.id)).toBe('queued');
    });
  });
}
