// The copier as the charm runs it (startCopies: the sh loop, flock, node dist/copier.js built as
// `npm run build` builds it) against the real Keystone + Glance (scripts/openstack/start.sh): the
// build project is `demo`, the consumers runners-a and runners-b, each with its own user, in a
// consumer-clouds.yaml under a temporary CHARM_HOST_ROOT. The report goes to the stand-in
// juju-exec of test/fakes (host-bin), which records it. Outside CI, when the services are not
// running, this file reports NOT RUN; in CI it fails.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundleCopier } from '../../scripts/bundle.mjs';
import { readCopyResult, startCopies, stopCopies, type CopierContext, type CopyRequest, type CopyResult } from '../../src/charm/copies.js';
import { Host } from '../../src/charm/host.js';
import { CLOUDS_YAML_PATH, CONFIG_DIR, CONSUMER_CLOUDS_PATH, COPY_LOG_PATH, COPY_REQUEST_PATH, COPY_RESULT_PATH, COPY_SERVED_PATH, LOG_DIR, METRICS_DIR, STATE_DIR } from '../../src/charm/paths.js';
import { eventually } from '../support/eventually.js';
import { readJsonLines } from '../support/files.js';
import { SuiteImages, consumerCloudsYaml, newerSecondThan, openstackSuite, type CreatedImage, type SuiteConsumer } from '../support/openstack.js';
import { guardOpenStackSuite } from '../support/openstack-guard.js';
import { startLoopbackProxy, type Forwarded, type LoopbackProxy } from './loopback-proxy.js';

const suite = await openstackSuite();
const REPO = path.resolve(import.meta.dirname, '../..');

/** Properties a runner image carries; each copy must have them. */
const COPIED = { architecture: 'x86_64', min_ram: 512, hw_firmware_type: 'uefi', os_distro: 'ubuntu' };
const isUpload = (r: Forwarded) => r.method === 'PUT' && /\/v2\/images\/[^/]+\/file$/.test(r.target);
const isCreate = (r: Forwarded) => r.method === 'POST' && /\/v2\/images$/.test(r.target);
const uploadedId = (r: Forwarded) => /\/v2\/images\/([^/]+)\/file$/.exec(r.target)![1]!;

if (guardOpenStackSuite(suite, 'the copier process')) {
  describe('the copier process, against real Keystone + Glance', () => {
    const run = `k${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const [a, b] = suite.consumers as [SuiteConsumer, SuiteConsumer];
    const names = { noble: `${run}-noble-x64`, jammy: `${run}-jammy-x64`, stopped: `${run}-stopped-x64` };
    const root = mkdtempSync(path.join(tmpdir(), 'copier-'));
    const fakeHost = path.join(root, 'fake-host');
    const charmDir = path.join(root, 'charm');
    const ctx: CopierContext = { node: process.execPath, charmDir, unitName: 'ib/0', jujuExec: path.join(REPO, 'test/fakes/host-bin/juju-exec') };
    const file = (prodPath: string) => path.join(root, prodPath);
    const wrongPassword = `${b.password}-wrong`;
    const canaries = [suite.canaryPassword, a.password, b.password, wrongPassword];
    const tokens = new Set<string>();
    let demo: SuiteImages;
    let admin: SuiteImages;
    const consumerImages = new Map<string, SuiteImages>();
    const sources: Record<'noble' | 'jammy', { image: CreatedImage; hash: unknown }> = {} as never;
    let proxy: LoopbackProxy | undefined;

    const imagesOf = (c: SuiteConsumer) => consumerImages.get(c.cloudName)!;
    const request = (over: Partial<CopyRequest> = {}): CopyRequest => ({
      sourceCloud: suite.cloudName,
      images: (['noble', 'jammy'] as const).map((base) => ({ base, id: sources[base].image.id, name: names[base] })),
      clouds: [a.cloudName, b.cloudName],
      keep: 2,
      published: {},
      ...over,
    });
    /** The juju-exec calls recorded so far (whole lines: the stand-in may be writing one). */
    const reports = (): string[][] =>
      readJsonLines<{ prog: string; argv: string[] }>(path.join(fakeHost, 'calls.jsonl'))
        .filter((c) => c.prog === 'juju-exec')
        .map((c) => c.argv);

    /** The unit's host as a hook sees it (the model proxy set when one is given). */
    const hostFor = (via?: LoopbackProxy) =>
      new Host({ PATH: process.env.PATH, CHARM_HOST_ROOT: root, FAKE_HOST_DIR: fakeHost, JUJU_CONTEXT_ID: 'ib-0-update-status-1', ...(via ? { JUJU_CHARM_HTTP_PROXY: via.url } : {}) });
    /** Starts the copier as the charm does and waits for its report; its result. */
    async function copy(req: CopyRequest, via?: LoopbackProxy, whileRunning?: () => Promise<void>): Promise<CopyResult> {
      const host = hostFor(via);
      const before = reports().length;
      expect(await startCopies({ host, warn: () => {} }, req, ctx)).toBe('started');
      await whileRunning?.();
      await eventually('the copier to report', () => reports().length > before);
      expect(reports()).toHaveLength(before + 1);
      for (const r of via?.seen ?? []) if (r.token) tokens.add(r.token);
      return readCopyResult(host)!;
    }
    const outcome = (result: CopyResult, cloud: SuiteConsumer, base: string) => result.outcomes.find((o) => o.cloud === cloud.cloudName && o.base === base)!;
    const metrics = (c: SuiteConsumer) => JSON.parse(readFileSync(file(`${METRICS_DIR}/copies-${c.cloudName}.json`), 'utf8')) as Record<string, number>;
    const log = () => readFileSync(file(COPY_LOG_PATH), 'utf8');
    const activeIds = async (c: SuiteConsumer, name: string) => (await imagesOf(c).named(name)).filter((i) => i.status === 'active').map((i) => i.id);

    /** Every running process whose command line names this test's charm dir or root: the copier and its loop. */
    function processesOfThisRoot(): { pid: string; cmdline: string; environ: string }[] {
      const found = [];
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
          if (cmdline.includes(root)) found.push({ pid, cmdline, environ: readFileSync(`/proc/${pid}/environ`, 'utf8') });
        } catch {
          // gone meanwhile
        }
      }
      return found;
    }

    beforeAll(async () => {
      for (const d of [CONFIG_DIR, STATE_DIR, LOG_DIR, METRICS_DIR]) mkdirSync(file(d), { recursive: true, mode: 0o700 });
      mkdirSync(path.join(fakeHost, 'fail'), { recursive: true });
      // No unit runs here: the stand-in juju-exec records the report and exits 0.
      writeFileSync(path.join(fakeHost, 'fail', 'juju-exec'), '0\n');
      await bundleCopier({ outfile: path.join(charmDir, 'dist/copier.js') });
      writeFileSync(file(CLOUDS_YAML_PATH), suite.cloudsYaml, { mode: 0o600 });
      writeFileSync(file(CONSUMER_CLOUDS_PATH), consumerCloudsYaml(suite), { mode: 0o600 });
      demo = await SuiteImages.open(suite, 'demo');
      admin = await SuiteImages.open(suite, 'admin');
      for (const c of [a, b]) consumerImages.set(c.cloudName, await SuiteImages.open(suite, c));
      for (const base of ['noble', 'jammy'] as const) {
        const image = await demo.createQueued(names[base], { disk_format: 'qcow2', ...COPIED, built_by: 'test' });
        await demo.upload(image.id, randomBytes(1024 * 1024 + (base === 'noble' ? 17 : 4321)));
        sources[base] = { image, hash: (await demo.details(image.id)).os_hash_value };
      }
    });

    afterEach(async () => {
      await proxy?.close();
      proxy = undefined;
    });

    afterAll(async () => {
      for (const images of [...consumerImages.values(), demo]) {
        for (const name of Object.values(names)) for (const id of await images.idsNamed(name)) images.created.add(id);
        await images?.cleanup();
      }
      rmSync(root, { recursive: true, force: true });
    });

    it('copies each base into each consumer project: owned by it, with the source hash and properties; result, metrics, log and report', async () => {
      // Uploads are held until the copier's processes have been looked at.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      proxy = await startLoopbackProxy({ gate: (r) => (isUpload(r) ? held : Promise.resolve()) });
      const via = proxy;
      let seenWhileRunning: ReturnType<typeof processesOfThisRoot> = [];

      const result = await copy(request(), via, async () => {
        await eventually('an upload to be held', () => via.seen.some(isUpload));
        seenWhileRunning = processesOfThisRoot();
        release();
      });

      // The copier and its loop were running; no password on their command lines or in their environment.
      expect(seenWhileRunning.some((p) => p.cmdline.includes(`${charmDir}/dist/copier.js`))).toBe(true);
      for (const p of seenWhileRunning) for (const secret of canaries) expect(p.cmdline + p.environ, p.cmdline).not.toContain(secret);

      expect(result.outcomes).toHaveLength(4);
      for (const c of [a, b]) {
        for (const base of ['noble', 'jammy'] as const) {
          const o = outcome(result, c, base);
          expect(o, `${c.cloudName} ${base}`).toMatchObject({ sourceId: sources[base].image.id, image: { name: names[base] } });
          expect(o.error).toBeUndefined();
          expect(o.reused).toBeFalsy();
          const stored = await admin.details(o.image!.id);
          expect(stored.owner).toBe(c.projectId);
          expect(stored.status).toBe('active');
          expect(stored.os_hash_value).toBe(sources[base].hash);
          expect(stored).toMatchObject({ name: names[base], disk_format: 'qcow2', ...COPIED });
          expect(stored.built_by).toBeUndefined();
          expect(o.image!.createdAt).toBe(stored.created_at);
          expect(o.bytes).toBe(stored.size);
        }
        expect(metrics(c)).toMatchObject({ succeeded: 2, failed: 0 });
      }
      expect(reports()[0]).toEqual(['ib/0', `JUJU_DISPATCH_PATH=hooks/copies_done '${charmDir}/dispatch'`]);
      expect(log()).toMatch(new RegExp(`noble: copied ${sources.noble.image.id} into ${a.cloudName} as `));
      expect(readFileSync(file(COPY_SERVED_PATH), 'utf8')).toBe(readFileSync(file(COPY_REQUEST_PATH), 'utf8'));
    });

    it('a second run reuses the copies: no image created, no data moved', async () => {
      const first = readCopyResult(new Host({ CHARM_HOST_ROOT: root }))!;
      const before = await Promise.all([a, b].map((c) => imagesOf(c).named(names.noble)));
      proxy = await startLoopbackProxy();

      const result = await copy(request(), proxy);

      expect(proxy.seen.filter((r) => isUpload(r) || isCreate(r))).toEqual([]);
      expect(proxy.seen.some((r) => r.method === 'GET')).toBe(true);
      for (const o of result.outcomes) {
        expect(o.reused, `${o.cloud} ${o.base}`).toBe(true);
        expect(o.image!.id).toBe(first.outcomes.find((f) => f.cloud === o.cloud && f.base === o.base)!.image!.id);
      }
      expect(await Promise.all([a, b].map((c) => imagesOf(c).named(names.noble)))).toEqual(before);
      expect(metrics(a)).toMatchObject({ succeeded: 4, failed: 0, last_bytes: 0 });
      expect(log()).toMatch(/already has image .* reused/);
    });

    it('prunes to keep after a copy, never deleting a published image', async () => {
      const first = readCopyResult(new Host({ CHARM_HOST_ROOT: root }))!;
      const published = outcome(first, a, 'noble').image!;
      const unpublished = outcome(first, b, 'noble').image!;
      // In runners-a, an image of the name newer than the published one, older than the next copy.
      await newerSecondThan(published);
      const stale = await imagesOf(a).createActive(names.noble);
      // A new noble build in the build project.
      await newerSecondThan(stale);
      const newer = await demo.createQueued(names.noble, { disk_format: 'qcow2' });
      await demo.upload(newer.id, randomBytes(300 * 1024));

      const result = await copy(
        request({ images: [{ base: 'noble', id: newer.id, name: names.noble }], keep: 1, published: { [a.cloudName]: [published.id] } }),
      );

      const copyA = outcome(result, a, 'noble').image!.id;
      const copyB = outcome(result, b, 'noble').image!.id;
      expect((await activeIds(a, names.noble)).sort()).toEqual([copyA, published.id].sort());
      expect(await activeIds(b, names.noble)).toEqual([copyB]);
      expect(await admin.details(stale.id).catch(() => 'gone')).toBe('gone');
      expect(await admin.details(unpublished.id).catch(() => 'gone')).toBe('gone');
      // jammy was not asked for: untouched.
      expect(await activeIds(a, names.jammy)).toHaveLength(1);
      expect(log()).toContain(`noble: pruned ${names.noble} in ${a.cloudName} to 1: deleted ${stale.id}`);
    });

    it('an upload cut off mid-stream is retried through the model proxy; no half image is left', async () => {
      const newer = await demo.createQueued(names.jammy, { disk_format: 'qcow2' });
      await demo.upload(newer.id, randomBytes(2 * 1024 * 1024 + 99));
      proxy = await startLoopbackProxy({ cut: { match: isUpload, afterBytes: 256 * 1024, times: 1 } });

      const result = await copy(request({ images: [{ base: 'jammy', id: newer.id, name: names.jammy }], clouds: [b.cloudName] }), proxy);

      expect(proxy.cuts).toHaveLength(1);
      const o = outcome(result, b, 'jammy');
      expect(o.error).toBeUndefined();
      expect(o.bytes).toBe(2 * 1024 * 1024 + 99);
      const half = uploadedId(proxy.cuts[0]!);
      expect(half).not.toBe(o.image!.id);
      expect((await admin.named(names.jammy)).map((i) => i.id)).not.toContain(half);
      expect((await imagesOf(b).named(names.jammy)).every((i) => i.status === 'active')).toBe(true);
      expect(log()).toMatch(new RegExp(`jammy: copying ${newer.id} into ${b.cloudName}: try 1 failed, trying again: .*broke off`));
    });

    it('a consumer whose credentials are refused fails alone, counted, with no password anywhere', async () => {
      const good = consumerCloudsYaml(suite);
      writeFileSync(file(CONSUMER_CLOUDS_PATH), good.replace(`password: ${b.password}\n`, `password: ${wrongPassword}\n`), { mode: 0o600 });
      const failedBefore = metrics(b).failed!;
      try {
        const result = await copy(request({ images: [request().images[1]!] }));
        expect(outcome(result, a, 'jammy').error).toBeUndefined();
        expect(outcome(result, b, 'jammy').error).toMatch(/authentication failed/);
        expect(metrics(b).failed).toBe(failedBefore + 1);
      } finally {
        writeFileSync(file(CONSUMER_CLOUDS_PATH), good, { mode: 0o600 });
      }
    });

    it('writes no password or token into its log, result, metrics or request files', () => {
      const texts = [COPY_LOG_PATH, COPY_RESULT_PATH, COPY_REQUEST_PATH, COPY_SERVED_PATH, ...readdirSync(file(METRICS_DIR)).map((f) => `${METRICS_DIR}/${f}`)].map((p) => readFileSync(file(p), 'utf8'));
      expect(tokens.size).toBeGreaterThan(0);
      for (const text of texts) for (const secret of [...canaries, ...tokens]) expect(text).not.toContain(secret);
    });

    // Last: stopCopies removes the request the test above reads.
    it('stopCopies during an upload: the copier deletes its unfinished image in the consumer project, writes no result or metrics, makes no report', async () => {
      const newer = await demo.createQueued(names.stopped, { disk_format: 'qcow2' });
      await demo.upload(newer.id, randomBytes(1024 * 1024 + 7));
      const held: (() => void)[] = [];
      proxy = await startLoopbackProxy({
        gate: async (r) => {
          if (isUpload(r)) await new Promise<void>((resolve) => held.push(resolve));
        },
      });
      const via = proxy;
      const host = hostFor(via);
      const reportsBefore = reports().length;
      const resultBefore = readFileSync(file(COPY_RESULT_PATH), 'utf8');
      const metricsBefore = metrics(a);

      expect(await startCopies({ host, warn: () => {} }, request({ images: [{ base: 'noble', id: newer.id, name: names.stopped }], clouds: [a.cloudName] }), ctx)).toBe('started');
      // Glance has the copy's image (queued), and its upload is held at the proxy.
      await eventually('the upload to be held', () => held.length === 1);
      const sessions = await stopCopies({ host, warn: () => {} });

      expect(sessions).toHaveLength(1);
      expect(processesOfThisRoot()).toEqual([]);
      expect(via.seen.filter(isCreate)).toHaveLength(1);
      expect((await admin.named(names.stopped)).map((i) => i.id)).toEqual([newer.id]);
      expect(log()).toContain('SIGTERM: stopping');
      expect(log()).toMatch(/stopped: 1 copy under way ended/);
      expect(log()).not.toMatch(/could not be deleted/);
      expect(reports()).toHaveLength(reportsBefore);
      expect(readFileSync(file(COPY_RESULT_PATH), 'utf8')).toBe(resultBefore);
      expect(metrics(a)).toEqual(metricsBefore);
      for (const r of via.seen) if (r.token) tokens.add(r.token);
      for (const secret of [...canaries, ...tokens]) expect(log()).not.toContain(secret);
      for (const go of held.splice(0)) go();
    });
  });
}
