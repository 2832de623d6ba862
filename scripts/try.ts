// `npm start`: try the packed charm without Juju. Packs if needed, unzips the .charm into a
// simulated unit (temp CHARM_HOST_ROOT, stand-in hook tools and host programs, a stand-in
// builder that reports an image back) and runs a whole lifecycle, printing what an operator
// would see. With Keystone + Glance of the OpenStack suite running (or CLOUDS_YAML=<file>),
// get-latest queries that cloud for real.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cloudsYaml as placeholderClouds } from '../test/support/clouds.js';
import { createUnit, type DispatchEvent, type SimUnit } from '../test/support/juju.js';
import { openstackSuite, SuiteImages } from '../test/support/openstack.js';
import { CLOUDS_YAML_PATH, CRON_PATH } from '../src/charm/paths.js';

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
const clouds = given ? readFileSync(given, 'utf8') : suite.up ? suite.cloudsYaml : placeholderClouds();
console.log(`cloud: ${given ? given : suite.up ? `the OpenStack suite's Keystone + Glance (${suite.cloudsYamlPath})` : 'a placeholder (no cloud running: get-latest will explain it cannot connect)'}`);

const u = createUnit({
  charmDir,
  config: { 'openstack-clouds-yaml': clouds, 'cloud-name': '', interval: 6, 'base-image': 'noble', 'revision-history-limit': 5 },
  relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }],
});
// The stand-in builder reports this id; with the suite's Glance up, it is a real image there.
let imageId = 'img-try-1';
const images = suite.up && !given ? await SuiteImages.open(suite) : undefined;
if (images) imageId = (await images.createActive('noble-github-runner-image-builder-x64')).id;
u.setHostKnob('next-image-id', imageId);

await step(u, 'install', 'install');
await until('first build reported back through the callback (build_success)', () => u.relations()['image:1']!['local-unit'].id === imageId);
await step(u, 'config-changed (nothing changed)', 'config-changed');
u.setConfig({ interval: 12 });
await step(u, 'config-changed (interval=12)', 'config-changed');
await until('rebuild after the schedule change', () => u.builds().length >= 2);
await step(u, 'build-immediate', { action: 'build-immediate' });
await until('build finished', () => u.builds().length >= 3);
await step(u, 'get-latest', { action: 'get-latest' });
await step(u, 'image-relation-joined', 'image-relation-joined');

const cronJob = u.readHostFile(CRON)?.split('\n').find((l) => l && !l.startsWith('#'));
console.log(`\nclouds.yaml: ${u.hostPath(CLOUDS)} mode ${(statSync(u.hostPath(CLOUDS)).mode & 0o777).toString(8)}`);
console.log(`cron entry (${u.hostPath(CRON)}):\n  ${cronJob}`);
console.log(`image relation data: ${JSON.stringify(u.relations()['image:1']!['local-unit'])}`);
console.log(`builds: ${u.builds().map((b) => b.id).join(', ')}`);
console.log(`\nEverything is left in place:\n  charm dir ${charmDir}\n  simulated unit ${u.dir} (hook-tool calls: ${path.join(u.jujuDir, 'calls.jsonl')}, host root: ${u.hostRoot})`);
await images?.cleanup(); // the image this run put in the suite's Glance
if (!existsSync(u.hostPath(CLOUDS))) process.exitCode = 1;
