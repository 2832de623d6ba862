// `npm start`: try the packed charm without Juju. Packs if needed, unzips the .charm into a
// simulated unit (temp CHARM_HOST_ROOT, stand-in hook tools and host programs, a stand-in
// builder that reports an image back) and runs a whole lifecycle, printing what an operator
// would see. The cloud: CLOUDS_YAML=<file> when given; else the OpenStack suite's Keystone +
// Glance when they run (each build gets a fresh image there); else a simulated Keystone v3 +
// Glance v2 served from this process on 127.0.0.1 (test/support/fake-cloud.ts), where each
// build of the stand-in builder lands as a new active image, so get-latest finds the last one.
// A github-runner deployment with its own project joins with its credentials (the suite's
// runners-a project, or a second project of the simulated cloud; none with CLOUDS_YAML): the run
// ends by checking that its relation's id is a verified copy of the last build in that project.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { cloudsYaml as placeholderClouds } from '../test/support/clouds.js';
import { startFakeCloud, type FakeCloud } from '../test/support/fake-cloud.js';
import { createUnit, type DispatchEvent, type DispatchOptions, type SimUnit } from '../test/support/juju.js';
import { openstackSuite, SuiteImages } from '../test/support/openstack.js';
import { imageName } from '../src/charm/build-config.js';
import { parseCopyResult } from '../src/charm/copies.js';
import { BUILD_RUNNING_PATH, CLOUDS_YAML_PATH, CONSUMER_CLOUDS_PATH, COPY_RESULT_PATH, CRON_PATH } from '../src/charm/paths.js';
import { OpenStackClient, parseCloudsYaml, resolveCloud } from '../src/openstack/index.js';

const repo = path.resolve(import.meta.dirname, '..');
const CRON = CRON_PATH;
const CLOUDS = CLOUDS_YAML_PATH;

function packed(): string {
  const out = execFileSync(process.execPath, [path.join(repo, 'scripts/pack.mjs'), '--json'], { cwd: repo, encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { path: string }).path;
}

async function step(u: SimUnit, label: string, event: DispatchEvent, opts?: DispatchOptions) {
  const t = performance.now();
  const r = await u.dispatch(event, opts);
  const ms = (performance.now() - t).toFixed(0);
  const status = r.statusHistory.at(-1) ?? u.unitStatus();
  console.log(`\n▶ ${label}: exit ${r.code} in ${ms} ms, ${r.calls.length} hook-tool calls`);
  console.log(`  status: ${status.status} — ${status.message}`);
  if (Object.keys(r.actionResults ?? {}).length) console.log(`  results: ${JSON.stringify(r.actionResults)}`);
  if (r.actionFailed) console.log(`  action failed: ${r.actionFailed}`);
  return r;
}

async function until(what: string, check: () => boolean, seconds = 15) {
  for (let i = 0; i < seconds * 20 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
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

// The consumer with its own project: the six keys github-runner sends (never printed).
const consumerKeys = (authUrl: string, project: string, user: string, password: string) => ({
  auth_url: authUrl,
  username: user,
  password,
  project_name: project,
  project_domain_name: 'Default',
  user_domain_name: 'Default',
});
const suiteConsumer = images ? suite.consumers[0] : undefined;
const consumer = suiteConsumer
  ? consumerKeys(suite.keystoneUrl, suiteConsumer.projectName, suiteConsumer.username, suiteConsumer.password)
  : fake
    ? consumerKeys(fake.authUrl, fake.addProject('runners', 'runner', 'runner-Pa55w0rd-simulated').name, 'runner', 'runner-Pa55w0rd-simulated')
    : undefined;
const CONSUMER_APP = 'github-runner-own-project';
const buildCloudName = given ? undefined : images ? suite.cloudName : 'simulated';
const clientOf = (yaml: string, name: string) => new OpenStackClient(resolveCloud(parseCloudsYaml(yaml), name));
const consumerCloud = consumer ? `${consumer.project_name}_${consumer.username}` : '';
const consumerClient = () => clientOf(stringify({ clouds: { [consumerCloud]: { auth: consumer } } }), consumerCloud);
const appImageName = imageName({ base: 'noble', appName: 'github-runner-image-builder', arch: process.arch === 'arm64' ? 'arm64' : 'x64' });
// In the suite's Glance, what this run copies into the consumer's project goes at the end.
const consumerHad = consumer ? new Set((await consumerClient().activeImages(appImageName)).map((i) => i.id)) : new Set<string>();

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
  if (fake && id && name && !fake.images.some((i) => i.id === id)) {
    fake.images.push({ id, name, status: 'queued', created_at: nextCreatedAt(), disk_format: 'raw', container_format: 'bare' });
    fake.putData(id, Buffer.from(`simulated ${name} image ${id}\n`)); // what the consumer's copy must hold too
  }
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
  u.setHostKnob('next-image-id', (await images.createActive(appImageName)).id);
};
const relationId = () => u.relations()['image:1']!['local-unit'].id;

await prepareNext();
await step(u, 'install', 'install');
// A build holds the lock until it has reported its image: the next step waits for that too.
const idle = () => !existsSync(u.hostPath(BUILD_RUNNING_PATH));
await until('first build reported back by the build script (build_success)', () => u.builds().length >= 1 && relationId() === u.builds()[0]!.id && idle());
const consumerId = () => u.relations()['image:2']?.['local-unit'].id;
/** The copier's last result holds a copy of `source` for the consumer, and the relation publishes it. */
const copied = (source: string | undefined) => {
  const outcome = parseCopyResult(u.readHostFile(COPY_RESULT_PATH) ?? '')?.outcomes.find((o) => o.cloud === consumerCloud && o.sourceId === source);
  return outcome?.image !== undefined && consumerId() === outcome.image.id;
};
if (consumer) {
  // A github-runner deployment with its own OpenStack project joins late, with its credentials:
  // the charm copies the image it already has into that project (no build), in the background.
  u.addRelation({ endpoint: 'image', id: 2, app: CONSUMER_APP, units: [`${CONSUMER_APP}/0`], remoteUnits: { [`${CONSUMER_APP}/0`]: consumer } });
  console.log(`\n${CONSUMER_APP} joins from project ${consumer.project_name} (user ${consumer.username}), sending its six credential keys`);
  await step(u, `image-relation-joined (${CONSUMER_APP})`, 'image-relation-joined', { relation: { id: 2 } });
  await step(u, `image-relation-changed (${CONSUMER_APP}: its credentials)`, 'image-relation-changed', { relation: { id: 2 } });
  console.log(`  consumer clouds: ${u.hostPath(CONSUMER_CLOUDS_PATH)} mode ${(statSync(u.hostPath(CONSUMER_CLOUDS_PATH)).mode & 0o777).toString(8)}`);
  await until(`the copy in ${consumer.project_name}, published to ${CONSUMER_APP} (copies_done), with no build`, () => copied(u.builds()[0]?.id), 120);
}
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
const lastBuilt = u.builds().at(-1)?.id;
if (consumer) await until(`${CONSUMER_APP}'s copy of the last build`, () => copied(lastBuilt), 120);

const cronJob = u.readHostFile(CRON)?.split('\n').find((l) => l && !l.startsWith('#'));
console.log(`\nclouds.yaml: ${u.hostPath(CLOUDS)} mode ${(statSync(u.hostPath(CLOUDS)).mode & 0o777).toString(8)}`);
console.log(`cron entry (${u.hostPath(CRON)}):\n  ${cronJob}`);
console.log(`image relation data: ${JSON.stringify(u.relations()['image:1']!['local-unit'])}`);
const builds = u.builds();
console.log(`builds: ${builds.map((b) => b.id).join(', ')}`);
if (fake) console.log(`simulated cloud's images: ${fake.images.map((i) => `${i.id} (${i.status} ${i.name}${i.owner ? `, project ${i.owner}` : ''})`).join(', ')}`);
const latestId = JSON.stringify(latest.actionResults ?? {}).match(/"id":"([^"]+)"/)?.[1];
const lastBuild = builds.at(-1)?.id;
console.log(latestId && latestId === lastBuild ? `get-latest: ${latestId}, the last build's image ✓` : `get-latest: ${latestId ?? 'no id'}, but the last build made ${lastBuild ?? 'nothing'} ✗`);
let consumerOk = true;
if (consumer) {
  // As the consumer sees its own project: the id it was given is active there, owned by it, with the build's data.
  const id = consumerId();
  const client = consumerClient();
  const [me, copy, source] = await Promise.all([client.whoami(), id ? client.getImage(id) : null, lastBuilt ? clientOf(clouds, buildCloudName!).getImage(lastBuilt) : null]);
  consumerOk = !!copy && !!source && id !== lastBuilt && copy.status === 'active' && copy.owner === me.projectId && copy.name === source.name && !!source.hashValue && copy.hashAlgo === source.hashAlgo && copy.hashValue === source.hashValue;
  console.log(`${CONSUMER_APP}'s relation data: ${JSON.stringify(u.relations()['image:2']!['local-unit'])}`);
  console.log(
    consumerOk
      ? `${CONSUMER_APP}: ${id}, a verified copy of ${lastBuilt} in its project ${consumer.project_name} (owner ${me.projectId}, ${copy!.hashAlgo} matches) ✓`
      : `${CONSUMER_APP}: ${id ?? 'no id'} is not a verified copy of ${lastBuilt ?? 'the last build'} in its project ${consumer.project_name} (${copy ? `${copy.status}, owner ${copy.owner}, ${copy.hashAlgo} ${copy.hashValue === source?.hashValue ? 'matches' : 'differs'}` : 'not there'}) ✗`,
  );
  if (images) {
    for (const image of await client.activeImages(appImageName)) if (!consumerHad.has(image.id)) await client.deleteImage(image.id);
  }
} else console.log(`no consumer with its own project: ${given ? 'CLOUDS_YAML names one cloud' : 'the suite has no consumer project'}`);
console.log(`\nEverything is left in place:\n  charm dir ${charmDir}\n  simulated unit ${u.dir} (hook-tool calls: ${path.join(u.jujuDir, 'calls.jsonl')}, host root: ${u.hostRoot})`);
await images?.cleanup(); // the images this run put in the suite's Glance
await fake?.close();
if (!existsSync(u.hostPath(CLOUDS)) || (!given && latestId !== lastBuild) || !consumerOk) process.exitCode = 1;
