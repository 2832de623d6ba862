// The late joiner (issue 20): how long a github-runner deployment with its own OpenStack project
// that joins an already serving charm waits for an image id, from its image-relation-changed
// (where the charm reads its credentials) to its unit databag holding the id of a verified copy
// in its project. Upstream's charm has it wait for a whole new VM build (30-60 min, issue 20).
//
// Measured on the PACKED charm (its dispatch, node and dist/copier.js), as a simulated unit with
// the stand-in hook tools and host programs (test/fakes), against the real Keystone + Glance of
// the OpenStack suite (scripts/openstack/start.sh): the build project is demo, the joiner the
// suite's runners-b project. One image of --mib MiB is uploaded into the build project and
// reported by the builder stand-in; each run the joiner's relation is added, joined and changed
// (timed from there), and once it is published, broken and its copies deleted, so every run
// copies the data again. Run by `npm run bench` (after the hook rows; row key `late`) or alone;
// it replaces its own section of bench/results.md and leaves the rest as it is.
//
//   node scripts/bench-late-joiner.mjs [options]
//
//   --runs N     timed joins (5)
//   --mib N      the image's size in MiB (16)
//   --out FILE   the results file (bench/results.md); --no-write to only print
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const SECTION = '## Late joiner: image-relation-changed to an id (issue 20)';
const UNIT = 'bench-late-joiner/0';
const log = (...a) => console.error('bench-late-joiner:', ...a);
const imp = (p) => tsImport(p, import.meta.url);

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sec = (ms) => (ms / 1000).toFixed(1);

/** The packed charm, unzipped (packs when needed, as `npm start` does). */
function packedCharmDir() {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts/pack.mjs'), '--json'], { cwd: ROOT, encoding: 'utf8' });
  const charm = JSON.parse(out.trim().split('\n').at(-1)).path;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-late-charm-'));
  execFileSync('unzip', ['-q', charm, '-d', dir]);
  return dir;
}

export async function lateJoinerBench({ runs = 5, mib = 16 } = {}) {
  const { openstackSuite, SuiteImages } = await imp('../test/support/openstack.ts');
  const suite = await openstackSuite();
  if (!suite.up || suite.consumers.length < 2) {
    return `${SECTION}\n\nskipped: ${suite.up ? 'the suite has no second consumer project' : suite.reason}\n`;
  }
  const { createUnit } = await imp('../test/support/juju.ts');
  const { imageName } = await imp('../src/charm/build-config.ts');
  const { parseCopyResult } = await imp('../src/charm/copies.ts');
  const { COPY_RESULT_PATH } = await imp('../src/charm/paths.ts');
  const { waitIdle } = await imp('../test/support/unit-processes.ts');
  // Polls every 40 ms: well under the figure's tenth of a second.
  const { eventually: until } = await imp('../test/support/eventually.ts');
  const { OpenStackClient, parseCloudsYaml, resolveCloud } = await imp('../src/openstack/index.ts');

  const consumer = suite.consumers[1];
  const app = UNIT.split('/')[0];
  const name = imageName({ base: 'noble', appName: app, arch: process.arch === 'arm64' ? 'arm64' : 'x64' });
  const keys = {
    auth_url: suite.keystoneUrl,
    username: consumer.username,
    password: consumer.password,
    project_name: consumer.projectName,
    project_domain_name: 'Default',
    user_domain_name: 'Default',
  };
  const build = new OpenStackClient(resolveCloud(parseCloudsYaml(suite.cloudsYaml), suite.cloudName));
  const joiner = await SuiteImages.open(suite, consumer);
  const charmDir = packedCharmDir();
  let unit;
  let sourceId;
  const rows = [];
  try {
    log(`uploading a ${mib} MiB image into the build project`);
    const data = randomBytes(mib * MiB);
    sourceId = (await build.createImage({ name, disk_format: 'raw', container_format: 'bare' })).id;
    await build.uploadImage(sourceId, Readable.from([data]), data.length);

    unit = createUnit({
      charmDir,
      unitName: UNIT,
      config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': suite.cloudsYaml, 'cloud-name': '', 'revision-history-limit': 5 },
      // A consumer in the build project: it shows when the charm serves the build.
      relations: [{ endpoint: 'image', id: 1, app: 'runners-build', units: ['runners-build/0'] }],
    });
    unit.setHostKnob('next-image-id', sourceId);
    const ok = async (event, opts) => {
      const r = await unit.dispatch(event, opts);
      if (r.code !== 0) throw new Error(`${typeof event === 'string' ? event : event.action} exited ${r.code}: ${r.stderr.slice(-1500)}`);
      return r;
    };
    const idOf = (id) => unit.relations()[`image:${id}`]?.['local-unit'].id;
    await ok('install');
    await until('the build to be served', () => idOf(1) === sourceId);
    await waitIdle(unit); // the build and its report are over
    const builds = unit.builds().length;

    for (let i = 0; i < runs + 1; i++) {
      const rel = 10 + i;
      unit.addRelation({ endpoint: 'image', id: rel, app: 'runners-late', units: ['runners-late/0'], remoteUnits: { 'runners-late/0': keys } });
      await ok('image-relation-joined', { relation: { id: rel } });
      const t0 = performance.now();
      const changed = await ok('image-relation-changed', { relation: { id: rel } });
      const hookMs = performance.now() - t0;
      const id = await until('the late joiner to be published an id', () => idOf(rel));
      const totalMs = performance.now() - t0;
      const outcome = parseCopyResult(unit.readHostFile(COPY_RESULT_PATH) ?? '')?.outcomes.find((o) => o.image?.id === id);
      const stored = await joiner.details(id);
      if (stored.owner !== consumer.projectId || stored.size !== data.length || outcome?.reused) {
        throw new Error(`run ${i}: ${id} is not a fresh copy in ${consumer.projectName} (owner ${stored.owner}, ${stored.size} bytes, reused ${outcome?.reused})`);
      }
      if (unit.builds().length !== builds) throw new Error(`run ${i}: the late joiner caused a build`);
      if (changed.calls.length === 0) throw new Error('image-relation-changed made no hook-tool call');
      if (i > 0) rows.push({ totalMs, hookMs, copyMs: outcome?.durationMs ?? NaN });
      log(`run ${i}${i === 0 ? ' (warm-up)' : ''}: ${sec(totalMs)} s (hook ${sec(hookMs)} s, copy ${sec(outcome?.durationMs ?? NaN)} s)`);
      // The joiner leaves, and its copies go: the next run copies the data again.
      await waitIdle(unit); // the copier and its copies_done hook are over
      await ok('image-relation-departed', { relation: { id: rel, departingUnit: 'runners-late/0' } });
      await ok('image-relation-broken', { relation: { id: rel } });
      unit.removeRelation(`image:${rel}`);
      for (const old of await joiner.idsNamed(name)) await joiner.delete(old);
    }
  } finally {
    for (const old of await joiner.idsNamed(name).catch(() => [])) await joiner.delete(old).catch(() => undefined);
    if (sourceId) await build.deleteImage(sourceId).catch(() => undefined);
    unit?.cleanup();
    rmSync(charmDir, { recursive: true, force: true });
  }
  const totals = rows.map((r) => r.totalMs);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  return [
    SECTION,
    '',
    `${new Date().toISOString()}; ${os.availableParallelism?.() ?? os.cpus().length} cores, load ${load} at the end; the packed charm; real Keystone + Glance on loopback;`,
    `a ${mib} MiB image; ${runs} timed joins after one warm-up, each a fresh copy (the previous one deleted).`,
    '',
    '| | median | min | max |',
    '|---|---|---|---|',
    `| image-relation-changed to the databag's id | ${sec(median(totals))} s | ${sec(Math.min(...totals))} s | ${sec(Math.max(...totals))} s |`,
    `| of which the image-relation-changed hook | ${sec(median(rows.map((r) => r.hookMs)))} s | | |`,
    `| of which the copy (the copier's own timing) | ${sec(median(rows.map((r) => r.copyMs)))} s | | |`,
    `| upstream: a full VM build (issue 20) | 30-60 min | | |`,
    '',
    `The rest of a join is the copier's start and the copies_done hook it fires through juju-exec. No build ran for any join.`,
    '',
  ].join('\n');
}

/** bench-copy.mjs rewrites everything from its heading on: this section goes before it. */
const COPY_SECTION = '## Image copy between projects (issue 20)';

/**
 * Puts `section` into the results file in place of its previous version (up to the next `## `);
 * a first one goes before the image-copy section, or at the end.
 */
export function writeSection(file, section) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const at = text.indexOf(SECTION);
  if (at === -1) {
    const copy = text.indexOf(COPY_SECTION);
    if (copy === -1) return writeFileSync(file, `${text.trimEnd()}\n\n${section.trimEnd()}\n`);
    return writeFileSync(file, `${text.slice(0, copy).trimEnd()}\n\n${section.trimEnd()}\n\n${text.slice(copy).trimEnd()}\n`);
  }
  const next = text.indexOf('\n## ', at + SECTION.length);
  const after = next === -1 ? '' : `\n\n${text.slice(next + 1).trimEnd()}`;
  writeFileSync(file, `${text.slice(0, at).trimEnd()}\n\n${section.trimEnd()}${after}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: opt } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      mib: { type: 'string', default: '16' },
      out: { type: 'string', default: path.join(ROOT, 'bench/results.md') },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (opt.help) {
    console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0].replace(/^\/\/ ?/gm, ''));
    process.exit(0);
  }
  const runs = Number(opt.runs);
  const mib = Number(opt.mib);
  for (const [k, v] of [['runs', runs], ['mib', mib]]) if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
  const section = await lateJoinerBench({ runs, mib });
  console.log(section);
  if (!opt['no-write']) writeSection(opt.out, section);
}
