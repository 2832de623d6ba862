// `npm start`: try the packed charm without Juju. Packs if needed, unzips the .charm into a
// simulated unit (temp CHARM_HOST_ROOT, stand-in hook tools and host programs, a stand-in
// builder that reports an image back) and runs a whole lifecycle, printing what an operator
// would see. The cloud: CLOUDS_YAML=<file> when given; else the OpenStack suite's Keystone +
// Glance when they run (each build gets a fresh image there); else a simulated Keystone v3 +
// Glance v2 served from this process on 127.0.0.1 (test/support/fake-cloud.ts), where each
// build of the stand-in builder lands as a new active image, so get-latest finds the last one.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cloudsYaml as placeholderClouds } from '../test/support/clouds.js';
import { startFakeCloud, type FakeCloud } from '../test/support/fake-cloud.js';
import { createUnit, type DispatchEvent, type SimUnit } from '../test/support/juju.js';
import { openstackSuite, SuiteImages } from '../test/support/openstack.js';
import { imageName } from '../src/charm/build-config.js';
import { BUILD_RUNNING_PATH, CLOUDS_YAML_PATH, CRON_PATH } from '../src/charm/paths.js';

const repo = path.resolve(import.meta.dirname, '..');
const CRON = CRON_PATH;
const CLOUDS = CLOUDS_YAML_PATH;

function packed(): string {
  const out = execFileSync(process.execPath, [path.join(repo, 'scripts/pack.mjs'), '--json'], { cwd: repo, encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { path: string }).path;
}

async function step(u: SimUnit, label: string, event: DispatchEvent) {
  const t = performance.now();
  const r = await u.dispatch(event);
  const ms = (performance.now() - t).toFixed(0);
  const status = r.statusHistory.at(-1) ?? u.unitStatus();
  console.log(`\n▶ ${label}: exit ${r.code} in ${ms} ms, ${r.calls.length} hook-tool calls`);
  console.log(`  status: ${status.status} — ${status.message}`);
  if (Object.keys(r.actionResults ?? {}).length) console.log(`  results: ${JSON.stringify(r.actionResults)}`);
  if (r.actionFailed) console.log(`  action failed: ${r.actionFailed}`);
  return r;
}

async function until(what: string, check: () => boolean) {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  console.log(check() ? `  … ${what}` : `  … still waiting for ${what}`);
}

const charmFile = packed();
console.log(`charm: ${charmFile} (${(statSync(charmFile).size / 1048576).toFixed(1)} MiB)`);
const charmDir = execFileSync('mktemp', ['-d', '/tmp/try-charm-XXXXXX'], { encoding: 'utf8' }).trim();
execFileSync('unzip', ['-q', charmFile, '-d', charmDir]);

const suite = await openstackSuite();
const given = process.env.CLOUDS_YAML;
const images = !given && suite.up ? await SuiteImages.open(suite) : undefined;
const fake: FakeCloud | undefined = !given && !suite.up ? await startFakeCloud() : undefined;
const clouds = given ? readFileSync(given, 'utf8') : images ? suite.cloudsYaml : placeholderClouds(fake!.authUrl, 'simulated');
console.log(
  `cloud: ${
    given
      ? given
      : images
        ? `the OpenStack suite's Keystone + Glance (${suite.cloudsYamlPath})`
        : `SIMULATED Keystone v3 + Glance v2 in this process at ${fake!.authUrl} (no cloud running; start the suite with \`bash scripts/openstack/start.sh\` or set CLOUDS_YAML=<file>)`
  }`,
);

const u = createUnit({
  charmDir,
  config: { 'openstack-clouds-yaml': clouds, 'cloud-name': '', interval: 6, 'base-image': 'noble', 'revision-history-limit': 5 },
  relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }],
});

// Each build must land in the cloud under a new id. The stand-in builder (no next-image-id knob)
// makes img-<ms> ids; the simulated cloud takes in each one, as an active image of the name the
// builder was asked for, before it answers anything (so build_success's check finds it).
let lastCreated = '';
const nextCreatedAt = () => {
  let t = new Date().toISOString();
  if (t <= lastCreated) t = new Date(Date.parse(lastCreated) + 1).toISOString();
  return (lastCreated = t);
};
const land = (id: string, name: string | undefined) => {
  if (fake && id && name && !fake.images.some((i) => i.id === id)) fake.images.push({ id, name, status: 'active', created_at: nextCreatedAt() });
};
if (fake) {
  fake.beforeRequest = () => {
    for (const b of u.builds()) land(b.id, b.image);
    const latest = existsSync(path.join(u.hostDir, 'latest-image-id')) ? readFileSync(path.join(u.hostDir, 'latest-image-id'), 'utf8').trim() : '';
    const run = u.hostCalls().findLast((c) => c.prog === 'github-runner-image-builder' && c.argv[2] === 'run');
    land(latest, run?.argv[3]); // --os-cloud <cloud> run <image-name> ...
  };
}
// With the suite's Glance, the next build reports a fresh real image (Glance's created_at has
// whole seconds: a new second each, so the newest is unambiguous).
const prepareNext = async () => {
  if (!images) return;
  await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));
  u.setHostKnob('next-image-id', (await images.createActive(imageName({ base: 'noble', appName: u.unitName.split('/')[0]!, arch: process.arch === 'arm64' ? 'arm64' : 'x64' }))).id);
};
const relationId = () => u.relations()['image:1']!['local-unit'].id;

await prepareNext();
await step(u, 'install', 'install');
// A build holds the lock until it has reported its image: the next step waits for that too.
const idle = () => !existsSync(u.hostPath(BUILD_RUNNING_PATH));
await until('first build reported back by the build script (build_success)', () => u.builds().length >= 1 && relationId() === u.builds()[0]!.id && idle());
await prepareNext();
await step(u, 'config-changed (nothing changed)', 'config-changed');
u.setConfig({ interval: 12 });
await step(u, 'config-changed (interval=12)', 'config-changed');
await until('rebuild after the schedule change', () => u.builds().length >= 2 && idle());
await prepareNext();
await step(u, 'build-immediate', { action: 'build-immediate' });
await until('build finished', () => u.builds().length >= 3 && idle());
const latest = await step(u, 'get-latest', { action: 'get-latest' });
await step(u, 'image-relation-joined', 'image-relation-joined');

const cronJob = u.readHostFile(CRON)?.split('\n').find((l) => l && !l.startsWith('#'));
console.log(`\nclouds.yaml: ${u.hostPath(CLOUDS)} mode ${(statSync(u.hostPath(CLOUDS)).mode & 0o777).toString(8)}`);
console.log(`cron entry (${u.hostPath(CRON)}):\n  ${cronJob}`);
console.log(`image relation data: ${JSON.stringify(u.relations()['image:1']!['local-unit'])}`);
const builds = u.builds();
console.log(`builds: ${builds.map((b) => b.id).join(', ')}`);
if (fake) console.log(`simulated cloud's images: ${fake.images.map((i) => `${i.id} (${i.status} ${i.name})`).join(', ')}`);
const latestId = JSON.stringify(latest.actionResults ?? {}).match(/"id":"([^"]+)"/)?.[1];
const lastBuild = builds.at(-1)?.id;
console.log(latestId && latestId === lastBuild ? `get-latest: ${latestId}, the last build's image ✓` : `get-latest: ${latestId ?? 'no id'}, but the last build made ${lastBuild ?? 'nothing'} ✗`);
console.log(`\nEverything is left in place:\n  charm dir ${charmDir}\n  simulated unit ${u.dir} (hook-tool calls: ${path.join(u.jujuDir, 'calls.jsonl')}, host root: ${u.hostRoot})`);
await images?.cleanup(); // the images this run put in the suite's Glance
await fake?.close();
if (!existsSync(u.hostPath(CLOUDS)) || (!given && latestId !== lastBuild)) process.exitCode = 1;
