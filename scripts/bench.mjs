// npm run bench: hook latency, hook-tool calls per hook, peak RSS, and get-latest against its
// floors, measured on the PACKED charm as Juju runs it: the .charm is unzipped and its `dispatch`
// runs as a subprocess in a fresh hook context (test/fakes/lib/run-in-context.sh) with the
// stand-in hook tools and host programs the tests use (test/fakes/README.md).
//
//   npm run bench [-- options]        node scripts/bench.mjs [options]
//
//   --runs N        timed runs per row after one warm-up (20)
//   --cli-runs N    runs of the openstack CLI row, ~1 s each (5)
//   --probe-runs N  extra runs per row with an in-process probe: tool time and peak RSS (= runs)
//   --pack          pack even when the .charm is newer than its sources
//   --out FILE      where the table goes (bench/results.md); --no-write to skip
//   --rows A,B      only these rows (keys: node harness empty load install cc-same cc-change
//                   update-status joined build get-latest curl cli copy); the floors always run;
//                   copy is the image-copy section (scripts/bench-copy.mjs, its own options there);
//                   late the late joiner's wait for an id (scripts/bench-late-joiner.mjs)
//   --cpu-prof DIR  probe runs also write V8 CPU profiles to DIR/<row>/ (slower; for digging)
//   --keep          keep the temp dir and the simulated units (printed)
//
// Rows run round-robin (one run of every row per round), so load from other processes on the
// machine hits floors and hooks alike and the ratios stay fair.
//
// What a hook's time is made of, and how the table shows it:
//   harness floor   run-in-context.sh running `true`: flock, copying state, env -i, sh.
//   node floor      the bundled node running an empty script, no harness: no charm is faster.
//   empty dispatch  the packed dispatch running an empty dist/charm.js through the harness:
//                   what any Node charm pays here before doing anything.
//   bundle load     node dist/charm.js with no hook context: loading the bundle, then exit 2.
//   tool ms         time inside stand-in hook tools (each is a Node run of the simulator, ~28 ms; Juju's are a Go
//                   binary and a socket round trip). Measured by the probe runs: NODE_OPTIONS
//                   preloads a probe that times spawnSync (the framework's only tool path) and
//                   reads the process's peak RSS (getrusage ru_maxrss = VmHWM) at exit. Timed
//                   runs have no probe.
//   ms - tools      per probe run, wall time minus that run's tool time (median of those).
//   own ms          ms - tools minus the harness floor: the dispatch script and node, as Juju's
//                   agent would run them. The targets (issue 15) are ratios of this to the node
//                   floor, taken per round and their median reported; the tool count has its
//                   own target.
// get-latest asks the suite's Glance for an image this script creates (and deletes at the end)
// under the bench unit's own image name, so other suites' images do not interfere.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const UNIT = 'bench-image-builder/0';
const APP = UNIT.split('/')[0];
// What the charm defines (paths, names, the exporter's flags), from its sources.
const P = await tsImport('../src/charm/paths.ts', import.meta.url);
const B = await tsImport('../src/charm/build-config.ts', import.meta.url);
const R = await tsImport('../src/charm/render.ts', import.meta.url);
const OS = {
  ...(await tsImport('../src/openstack/keystone.ts', import.meta.url)),
  ...(await tsImport('../src/openstack/glance.ts', import.meta.url)),
  ...(await tsImport('../src/openstack/clouds.ts', import.meta.url)),
};
const IMAGE = B.imageName({ base: 'noble', appName: APP, arch: process.arch === 'arm64' ? 'arm64' : 'x64' });
const BUILD_LOCK = P.BUILD_LOCK_PATH;
const SKIP_OS = 'skipped (Keystone + Glance not running)';
const DUMMY_CLOUDS = `clouds:
  benchcloud:
    auth:
      auth_url: http://127.0.0.1:1/v3
      username: demo
      password: bench-password
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`;

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    'cli-runs': { type: 'string', default: '5' },
    'probe-runs': { type: 'string' },
    pack: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(ROOT, 'bench/results.md') },
    'no-write': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    rows: { type: 'string' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (opt.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0].replace(/^\/\/ ?/gm, ''));
  process.exit(0);
}
const RUNS = Number(opt.runs);
const CLI_RUNS = Number(opt['cli-runs']);
const PROBE_RUNS = Number(opt['probe-runs'] ?? RUNS);
for (const [k, v] of [['runs', RUNS], ['cli-runs', CLI_RUNS], ['probe-runs', PROBE_RUNS]]) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
}

const log = (...a) => console.error('bench:', ...a);

// ---------------------------------------------------------------------------------------------
// The artifact.

/** Newest mtime of the files a pack is made from. */
function newestSource() {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'dispatch', 'hooks', 'metadata.yaml', 'config.yaml', 'actions.yaml', 'package-lock.json', 'scripts/bundle.mjs', 'scripts/pack.mjs', 'scripts/runtime.mjs']) {
    visit(path.join(ROOT, p));
  }
  return newest;
}

function ensurePacked() {
  const charm = path.join(ROOT, `github-runner-image-builder_ubuntu-22.04-${process.arch === 'arm64' ? 'arm64' : 'amd64'}.charm`);
  if (!opt.pack && existsSync(charm) && statSync(charm).mtimeMs > newestSource()) {
    return { path: charm, size: statSync(charm).size, packed: false };
  }
  log('packing (node scripts/pack.mjs --json)');
  const r = spawnSync(process.execPath, ['scripts/pack.mjs', '--json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pack failed:\n${r.stdout}\n${r.stderr}`);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { path: summary.path, size: summary.size, packed: true };
}

/** A charm dir like `src`, with the runtime's files (node/bin/*) hard-linked: same bytes, no 100 MB copy. */
function cloneCharmDir(src, dest) {
  const walk = (rel) => {
    for (const e of readdirSync(path.join(src, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        mkdirSync(path.join(dest, r), { recursive: true });
        walk(r);
      } else if (rel === path.join('node', 'bin')) {
        try {
          linkSync(path.join(src, r), path.join(dest, r));
        } catch {
          copyFileSync(path.join(src, r), path.join(dest, r));
        }
      } else if (e.name !== '.unit-state.json') {
        copyFileSync(path.join(src, r), path.join(dest, r));
      }
    }
  };
  mkdirSync(dest, { recursive: true });
  walk('.');
  return dest;
}

/** The auth body the charm sends for the suite's clouds.yaml (the client's own function), for the curl floor. */
const authBody = (suite) => JSON.stringify(OS.authRequestBody(OS.resolveCloud(OS.parseCloudsYaml(suite.cloudsYaml), suite.cloudName)));

// ---------------------------------------------------------------------------------------------
// Running one event in a hook context, timed.

const PROBE = `// bench probe (preloaded with NODE_OPTIONS in probe runs only). It times spawnSync at the
// native binding, so it loads nothing the script would not: node:child_process would cost an
// empty script ~2 ms more than a charm that loads it anyway, and bias the comparisons.
const { appendFileSync } = require('node:fs');
const binding = process.binding('spawn_sync');
const spawn = binding.spawn;
let toolMs = 0, toolCalls = 0;
binding.spawn = function (...args) {
  const t = performance.now();
  try { return spawn.apply(this, args); } finally { toolMs += performance.now() - t; toolCalls++; }
};
// --cpu-prof is refused in NODE_OPTIONS: profile through the in-thread inspector instead.
const profDir = process.env.BENCH_CPU_PROF_DIR;
let session;
if (profDir) {
  session = new (require('node:inspector').Session)();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
  session.post('Profiler.start');
}
process.on('exit', () => {
  if (session) {
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      require('node:fs').mkdirSync(profDir, { recursive: true });
      require('node:fs').writeFileSync(profDir + '/' + process.pid + '.cpuprofile', JSON.stringify(res.profile));
    });
  }
  const out = process.env.BENCH_PROBE_OUT;
  if (out) appendFileSync(out, JSON.stringify({ wallMs: performance.now(), toolMs, toolCalls, maxRssKB: process.resourceUsage().maxRSS }) + '\\n');
});
`;

/** The environment Juju adds for an event (after unit.env), as test/support/juju.ts builds it. */
function eventEnv(event) {
  if (event.action) {
    const id = String(Math.floor(Math.random() * 1e6));
    return { JUJU_DISPATCH_PATH: `actions/${event.action}`, JUJU_HOOK_NAME: '', JUJU_ACTION_NAME: event.action, JUJU_ACTION_UUID: id, JUJU_ACTION_TAG: `action-${id}` };
  }
  const env = { JUJU_DISPATCH_PATH: `hooks/${event.hook}`, JUJU_HOOK_NAME: event.hook };
  if (event.relation) Object.assign(env, { JUJU_RELATION: event.relation.endpoint, JUJU_RELATION_ID: `${event.relation.endpoint}:${event.relation.id}`, JUJU_REMOTE_APP: event.relation.app, JUJU_REMOTE_UNIT: event.relation.unit });
  return env;
}

const readLines = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/**
 * Runs `exe` (default the unit's dispatch) for `event` through run-in-context.sh and times it
 * from spawn to exit. Output goes to files, so a background process cannot hold our pipes.
 */
function runInContext(J, work, unit, event, { exe, probeOut, profDir } = {}) {
  const name = event.action ?? event.hook;
  const contextId = `${unit.unitName}-${name}-${BigInt(`0x${randomBytes(8).toString('hex')}`)}`;
  const env = { ...eventEnv(event), JUJU_CONTEXT_ID: contextId };
  if (probeOut) {
    Object.assign(env, { NODE_OPTIONS: `--require ${path.join(work, 'probe.cjs')}`, BENCH_PROBE_OUT: probeOut, ...(profDir ? { BENCH_CPU_PROF_DIR: profDir } : {}) });
  }
  const args = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), '--', exe ?? path.join(unit.charmDir, 'dispatch')];
  const outFile = path.join(work, 'last-output');
  const fd = openSync(outFile, 'w');
  const callsBefore = readLines(path.join(unit.jujuDir, 'calls.jsonl')).length;
  const t = process.hrtime.bigint();
  const r = spawnSync(J.RUN_IN_CONTEXT, args, { stdio: ['ignore', fd, fd], env: { FAKE_JUJU_DIR: unit.jujuDir, PATH: '/usr/local/bin:/usr/bin:/bin' }, timeout: 120_000 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  closeSync(fd);
  if (r.status !== 0) throw new Error(`${name} exited ${r.status ?? r.signal}:\n${readFileSync(outFile, 'utf8').slice(-2000)}`);
  if (event.action && existsSync(path.join(unit.jujuDir, 'action/failed'))) {
    throw new Error(`${name} failed: ${readFileSync(path.join(unit.jujuDir, 'action/failed'), 'utf8')}`);
  }
  const calls = readLines(path.join(unit.jujuDir, 'calls.jsonl')).slice(callsBefore).map((l) => JSON.parse(l));
  const tools = calls.map((c) => (c.tool === 'juju-log' ? `juju-log ${c.argv[c.argv.indexOf('--log-level') + 1] ?? ''}`.trim() : c.tool));
  return { ms, calls: calls.length, tools };
}

/** Waits until no build holds the unit's build lock (background builds must not pile up). */
async function waitBuildIdle(unit) {
  const lock = unit.hostPath(BUILD_LOCK);
  if (!existsSync(lock)) return;
  for (let i = 0; i < 1000; i++) {
    if (spawnSync('flock', ['-n', lock, 'true']).status === 0) return;
    await sleep(10);
  }
  throw new Error(`a background build of ${unit.dir} still holds ${lock} after 10 s`);
}

function timeCommand(cmd, args, opts = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60_000, ...opts });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status ?? r.signal}: ${r.stderr?.slice(0, 500)}`);
  return { ms, stdout: r.stdout };
}

// ---------------------------------------------------------------------------------------------
// Statistics and the table.

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Nearest-rank percentile. */
const pct = (xs, p) => sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)];
const f1 = (x) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1));

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return { cpu: model.trim(), cores: os.availableParallelism?.() ?? os.cpus().length, load: os.loadavg().map((l) => l.toFixed(2)).join(' ') };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const mach = machine();
  const artifact = ensurePacked();
  const work = mkdtempSync(path.join(os.tmpdir(), 'charm-bench-'));
  const cleanups = [];
  try {
    const charm = path.join(work, 'charm');
    mkdirSync(charm);
    const uz = spawnSync('unzip', ['-q', artifact.path, '-d', charm], { encoding: 'utf8' });
    if (uz.status !== 0) throw new Error(`unzip failed: ${uz.stderr}`);
    // What a unit's first hook does: dispatch unpacks node/bin/node.xz (timed separately below).
    const { unpackRuntime } = await import('./runtime.mjs');
    const unpacked = unpackRuntime(charm);
    const node = unpacked.node;
    const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(path.join(work, 'probe.cjs'), PROBE);
    writeFileSync(path.join(work, 'empty.js'), '');
    // test/support (the stand-ins' driver, the OpenStack suite's state), TypeScript loaded by tsx.
    const J = await tsImport('../test/support/juju.ts', import.meta.url);
    const O = await tsImport('../test/support/openstack.ts', import.meta.url);
    const suite = await O.openstackSuite();
    if (!suite.up) log(`Keystone + Glance are not running (${suite.reason}); get-latest rows are skipped. Start them with: bash scripts/openstack/start.sh`);

    // An empty charm: the packed dispatch and node, and an empty dist/charm.js.
    const emptyCharm = cloneCharmDir(charm, path.join(work, 'empty-charm'));
    for (const f of readdirSync(path.join(emptyCharm, 'dist'))) rmSync(path.join(emptyCharm, 'dist', f));
    writeFileSync(path.join(emptyCharm, 'dist/charm.js'), '');

    let unitSeq = 0;
    const newUnit = (config = {}) => {
      const charmDir = cloneCharmDir(charm, path.join(work, `charm-${++unitSeq}`));
      const u = J.createUnit({
        charmDir,
        unitName: UNIT,
        config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': DUMMY_CLOUDS, 'cloud-name': '', 'revision-history-limit': 5, ...config },
        relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }],
      });
      // Builds are inert: the builder's `run` exits 0 at once, and the build's report (build_failed:
      // no image id printed) goes nowhere: juju-exec exits 0 without running a hook.
      u.failHost('github-runner-image-builder.run', 0);
      u.failHost('juju-exec', 0);
      mkdirSync(path.join(u.jujuDir, 'action'), { recursive: true });
      writeFileSync(path.join(u.jujuDir, 'action/params.json'), '{}');
      if (opt.keep) log(`unit ${u.dir} (charm ${charmDir})`);
      else cleanups.push(() => u.cleanup());
      return u;
    };
    const installed = async (config) => {
      const u = newUnit(config);
      const r = await u.dispatch('install');
      if (r.code !== 0) throw new Error(`setup install failed: ${r.stderr}`);
      await waitBuildIdle(u);
      return u;
    };

    // Units: steady (config-changed, update-status, relation-joined), one whose config flips,
    // one for build-immediate, one on the real cloud for get-latest, fresh ones for install.
    const steady = await installed();
    const built = await steady.dispatch('hooks/build_success', { env: { OPENSTACK_IMAGE_ID: 'img-bench' } });
    if (built.code !== 0) throw new Error(`setup build_success failed: ${built.stderr}`);
    steady.addRelation({ endpoint: 'image', id: 2, app: 'other-runner', units: ['other-runner/0'] });
    const flipping = await installed();
    const builder = await installed();
    const harnessUnit = newUnit();
    let cloudUnit;
    let imageId;
    let images;
    if (suite.up) {
      cloudUnit = newUnit({ 'openstack-clouds-yaml': suite.cloudsYaml, 'cloud-name': suite.cloudName });
      images = await O.SuiteImages.open(suite);
      imageId = (await images.createActive(IMAGE)).id;
      cleanups.push(() => images.cleanup());
    }

    const charmRow = (key, label, opts) => ({ key, label, kind: 'charm', runs: RUNS, samples: [], calls: [], probes: [], ...opts });
    const floorRow = (key, label, opts) => ({ key, label, kind: 'floor', runs: RUNS, samples: [], calls: [], probes: [], ...opts });
    let flip = 0;
    let installUnit;
    const rows = [
      floorRow('node', 'node floor: bundled node, empty script', {
        run: (probeOut) => timeCommand(node, [...(probeOut ? ['--require', path.join(work, 'probe.cjs')] : []), path.join(work, 'empty.js')], { env: { PATH: '/usr/bin:/bin', ...(probeOut ? { BENCH_PROBE_OUT: probeOut } : {}) } }),
      }),
      floorRow('harness', 'harness floor: run-in-context.sh `true`', {
        run: () => runInContext(J, work, harnessUnit, { hook: 'update-status' }, { exe: 'true' }),
        noProbe: true,
      }),
      floorRow('empty', 'empty dispatch: packed dispatch + empty charm.js, through the harness', {
        run: (probeOut, profDir) => runInContext(J, work, harnessUnit, { hook: 'update-status' }, { exe: path.join(emptyCharm, 'dispatch'), probeOut, profDir }),
      }),
      floorRow('load', 'bundle load: dist/charm.js with no hook context (exits at the context check)', {
        run: (probeOut) => {
          const r = spawnSync(node, [...(probeOut ? ['--require', path.join(work, 'probe.cjs')] : []), path.join(charm, 'dist/charm.js')], { stdio: 'ignore', env: { PATH: '/usr/bin:/bin', ...(probeOut ? { BENCH_PROBE_OUT: probeOut } : {}) } });
          if (r.status !== 2) throw new Error(`bundle load: expected exit 2 (no context), got ${r.status}`);
        },
      }),
      charmRow('install', 'install (fresh unit)', {
        pre: () => {
          installUnit = newUnit();
        },
        run: (probeOut, profDir) => runInContext(J, work, installUnit, { hook: 'install' }, { probeOut, profDir }),
        post: async () => {
          await waitBuildIdle(installUnit);
          installUnit.cleanup();
          rmSync(installUnit.charmDir, { recursive: true, force: true });
        },
      }),
      charmRow('cc-same', 'config-changed, no change', {
        run: (probeOut, profDir) => runInContext(J, work, steady, { hook: 'config-changed' }, { probeOut, profDir }),
      }),
      charmRow('cc-change', 'config-changed, interval changed', {
        pre: () => flipping.setConfig({ interval: ++flip % 2 ? 12 : 6 }),
        run: (probeOut, profDir) => runInContext(J, work, flipping, { hook: 'config-changed' }, { probeOut, profDir }),
        post: () => waitBuildIdle(flipping),
      }),
      charmRow('update-status', 'update-status', {
        run: (probeOut, profDir) => runInContext(J, work, steady, { hook: 'update-status' }, { probeOut, profDir }),
      }),
      charmRow('joined', 'image-relation-joined (stored image)', {
        run: (probeOut, profDir) => runInContext(J, work, steady, { hook: 'image-relation-joined', relation: { endpoint: 'image', id: 2, app: 'other-runner', unit: 'other-runner/0' } }, { probeOut, profDir }),
      }),
      charmRow('build', 'build-immediate (action)', {
        run: (probeOut, profDir) => runInContext(J, work, builder, { action: 'build-immediate' }, { probeOut, profDir }),
        post: () => waitBuildIdle(builder),
      }),
      charmRow('get-latest', 'get-latest (action, real Keystone + Glance)', {
        skip: suite.up ? undefined : SKIP_OS,
        run: (probeOut, profDir) => runInContext(J, work, cloudUnit, { action: 'get-latest' }, { probeOut, profDir }),
        check: () => {
          const res = JSON.parse(readFileSync(path.join(cloudUnit.jujuDir, 'action/results.json'), 'utf8'));
          if (res.id !== imageId) throw new Error(`get-latest returned ${JSON.stringify(res)}, expected image ${imageId}`);
        },
      }),
      floorRow('curl', 'curl floor: the same two requests (token POST + image GET)', {
        skip: suite.up ? undefined : SKIP_OS,
        noProbe: true,
        run: () => {
          return timeCommand(
            'sh',
            [
              '-c',
              'tok=$(curl -sS -f -o /dev/null -D - -H "Content-Type: application/json" --data-binary @- "$1" | tr -d "\\r" | sed -n "s/^[Xx]-[Ss]ubject-[Tt]oken: //p")' +
                ' && curl -sS -f -H "X-Auth-Token: $tok" "$2"',
              'curl-floor',
              `${suite.keystoneUrl}/auth/tokens`,
              // The client's query, but for the owner filter (the project id comes in the token's body).
              OS.imagesUrl(suite.glanceUrl, { name: IMAGE, status: 'active', sort: 'created_at:desc,id:desc', limit: 1 }),
            ],
            { input: authBody(suite), env: { PATH: '/usr/bin:/bin' } },
          );
        },
        check: (r) => {
          if (!r.stdout.includes(imageId)) throw new Error(`curl floor: the image list lacks ${imageId}: ${r.stdout.slice(0, 300)}`);
        },
      }),
      floorRow('cli', 'python peer: openstack image list --name … --sort created_at:desc --limit 1', {
        skip: suite.up ? undefined : SKIP_OS,
        runs: CLI_RUNS,
        noProbe: true,
        run: () =>
          timeCommand('/usr/bin/openstack', ['image', 'list', '--name', IMAGE, '--sort', 'created_at:desc', '--limit', '1', '-f', 'value', '-c', 'ID'], {
            env: { PATH: '/usr/bin:/bin', HOME: work, OS_CLIENT_CONFIG_FILE: suite.cloudsYamlPath, OS_CLOUD: suite.cloudName },
          }),
        check: (r) => {
          if (r.stdout.trim() !== imageId) throw new Error(`openstack image list printed ${JSON.stringify(r.stdout)}, expected ${imageId}`);
        },
      }),
    ];
    if (suite.up && !existsSync('/usr/bin/openstack')) rows.at(-1).skip = 'skipped (/usr/bin/openstack not installed: bash scripts/openstack/install.sh)';

    const profDir = (row) => (opt['cpu-prof'] ? path.resolve(opt['cpu-prof'], row.key) : undefined);
    const once = async (row, probeOut) => {
      await row.pre?.();
      let r;
      try {
        const t = process.hrtime.bigint();
        r = row.run(probeOut, probeOut && profDir(row));
        r = r && typeof r.ms === 'number' ? r : { ms: Number(process.hrtime.bigint() - t) / 1e6 };
        row.check?.(r);
      } finally {
        await row.post?.();
      }
      return r;
    };

    if (opt.rows) {
      const wanted = new Set(['node', 'harness', 'empty', ...opt.rows.split(',')]);
      for (const r of rows) if (!wanted.has(r.key)) r.skip = 'not run (--rows)';
    }
    const active = rows.filter((r) => !r.skip);
    // Each round runs every row once plainly and once with the probe, so both kinds of run see
    // the same load from whatever else the machine is doing.
    log(`warm-up, then ${Math.max(RUNS, PROBE_RUNS)} rounds: ${RUNS} plain runs per row (openstack CLI: ${CLI_RUNS}), ${PROBE_RUNS} probe runs`);
    for (const row of active) await once(row);
    const probeFile = path.join(work, 'probe.jsonl');
    const probeRun = async (row) => {
      rmSync(probeFile, { force: true });
      const r = await once(row, probeFile);
      const lines = existsSync(probeFile) ? readFileSync(probeFile, 'utf8').trim().split('\n').filter(Boolean) : [];
      if (lines.length !== 1) throw new Error(`${row.key}: expected one probe record, got ${lines.length}`);
      row.probes.push({ ...JSON.parse(lines[0]), ms: r.ms });
    };
    const rounds = Math.max(RUNS, PROBE_RUNS);
    for (let i = 0; i < rounds; i++) {
      for (const row of active) {
        // Rows with fewer runs are spread evenly over the rounds.
        if (i < RUNS && Math.floor(((i + 1) * row.runs) / RUNS) !== Math.floor((i * row.runs) / RUNS)) {
          const r = await once(row);
          row.samples.push(r.ms);
          if (r.calls !== undefined) row.calls.push(r.calls);
          if (r.tools) row.tools = r.tools;
        }
        if (i < PROBE_RUNS && !row.noProbe) await probeRun(row);
      }
      process.stderr.write(`\rbench: round ${i + 1}/${rounds}`);
    }
    process.stderr.write('\n');

    // ---- results
    const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
    for (const r of rows) {
      if (r.skip) continue;
      r.median = median(r.samples);
      r.p95 = pct(r.samples, 95);
      r.nCalls = r.calls.length ? median(r.calls) : undefined;
      r.callsMax = r.calls.length ? Math.max(...r.calls) : undefined;
      if (r.probes.length) {
        r.rssMB = Math.max(...r.probes.map((p) => p.maxRssKB)) / 1024;
        r.toolMs = median(r.probes.map((p) => p.toolMs));
        // Paired within each probe run: its wall time minus its own tool time. Rows without a
        // probe (harness, curl, CLI) run no node, so their median is the number.
        r.noTool = median(r.probes.map((p) => p.ms - p.toolMs));
      } else {
        r.noTool = r.median;
      }
    }
    const floor = byKey.node;
    const harness = byKey.harness.median;
    // Ratios are paired by round: round i's own time over round i's floor, so that the machine
    // getting slower or faster during the run (it does: other tenants) moves both sides alike.
    // The figure is the median of those ratios; the middle half of them shows the spread.
    const noToolOf = (p) => p.ms - p.toolMs;
    const ownAt = (r, i) => noToolOf(r.probes[i]) - byKey.harness.samples[i];
    const pairedRatios = (r, denominatorAt) => {
      const n = Math.min(r.probes.length, floor.probes.length, byKey.harness.samples.length);
      return Array.from({ length: n }, (_, i) => ownAt(r, i) / denominatorAt(i));
    };
    const spread = (xs) => ({ ratio: median(xs), lo: pct(xs, 25), hi: pct(xs, 75) });
    for (const r of rows) {
      if ((r.kind !== 'charm' && r.key !== 'empty') || r.skip) continue;
      r.own = r.noTool - harness;
      Object.assign(r, spread(pairedRatios(r, (i) => noToolOf(floor.probes[i]))));
    }

    const calls = (r) => (r.nCalls === undefined ? '—' : r.callsMax === r.nCalls ? String(r.nCalls) : `${r.nCalls} (max ${r.callsMax})`);
    const table = [
      '| row | runs | median ms | p95 ms | tool calls | stand-in tool ms | ms − tools | own ms | × node floor | peak RSS MB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) =>
        r.skip
          ? `| ${r.label} | ${r.skip} | | | | | | | | |`
          : `| ${r.label} | ${r.samples.length} | ${f1(r.median)} | ${f1(r.p95)} | ${calls(r)} | ${r.kind === 'charm' ? f1(r.toolMs) : '—'} | ${f1(r.noTool)} | ${f1(r.own)} | ${r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}x`} | ${f1(r.rssMB)} |`,
      ),
    ];

    const targets = [];
    const verdict = (ok) => (ok ? 'PASS' : 'MISS');
    // The upstream Python charm (ops 2.14) with the same stand-in tools on this machine, as issue 15
    // quotes it: PyPI is out of reach here, so the bench cannot run it.
    const UPSTREAM_MS = { 'update-status': 121, 'cc-same': 126 };
    for (const key of ['cc-same', 'update-status']) {
      const r = byKey[key];
      if (r.skip) {
        targets.push(`- ${r.label}: ${r.skip}`);
        continue;
      }
      const { ratio, lo, hi } = r;
      targets.push(
        `- ${verdict(ratio <= 1.5)} ${r.label}: ${f1(r.own)} ms of its own (ms − tools − harness; node floor ${f1(floor.noTool)} ms), ${ratio.toFixed(2)}x the node floor (median of ${r.probes.length} rounds' ratios; middle half ${lo.toFixed(2)}–${hi.toFixed(2)}x); target ≤ 1.5x, stretch ≤ 1.25x (${ratio <= 1.25 ? 'met' : 'not met'}).`,
      );
      const faster = UPSTREAM_MS[key] / r.own;
      targets.push(`- ${verdict(faster >= 4)} ${r.label}: ${faster.toFixed(1)}x faster than the upstream Python charm (~${UPSTREAM_MS[key]} ms, issue 15's figure, not measured here); target ≥ 4x.`);
      targets.push(`- ${verdict(r.callsMax <= 3)} ${r.label}: ${r.callsMax} hook-tool calls per run (logging included); target ≤ 3.`);
    }
    const gl = byKey['get-latest'];
    if (gl.skip || byKey.curl.skip) {
      targets.push(`- get-latest vs curl: ${gl.skip ?? byKey.curl.skip}`, `- get-latest vs openstack CLI: ${gl.skip ?? byKey.curl.skip}`);
    } else {
      const curl = byKey.curl.median;
      const bound = floor.noTool + 1.5 * curl;
      const toBound = spread(pairedRatios(gl, (i) => noToolOf(floor.probes[i]) + 1.5 * byKey.curl.samples[i]));
      targets.push(
        `- ${verdict(toBound.ratio <= 1)} get-latest: ${f1(gl.own)} ms of its own; target ≤ node floor + 1.5 × curl = ${f1(floor.noTool)} + 1.5 × ${f1(curl)} = ${f1(bound)} ms; paired by round, own / bound = ${toBound.ratio.toFixed(2)} (middle half ${toBound.lo.toFixed(2)}–${toBound.hi.toFixed(2)}), target ≤ 1. (Median with stand-in tools and harness: ${f1(gl.median)} ms.)`,
      );
      if (byKey.cli.skip) targets.push(`- get-latest vs openstack CLI: ${byKey.cli.skip}`);
      else {
        const cli = byKey.cli.median;
        targets.push(
          `- ${verdict(cli / gl.own >= 10)} get-latest vs openstack CLI (${byKey.cli.samples.length} runs): ${f1(cli)} / ${f1(gl.own)} ms = ${(cli / gl.own).toFixed(1)}x faster; target ≥ 10x. (With stand-in tools and harness: ${(cli / gl.median).toFixed(1)}x.)`,
        );
      }
    }
    const hooks = rows.filter((r) => r.kind === 'charm' && !r.skip);
    const worst = hooks.reduce((a, b) => (b.rssMB > a.rssMB ? b : a), { rssMB: 0, label: 'none' });
    const rssBound = floor.rssMB + 6 * 1.048576; // 6 MiB, in MB
    targets.push(`- ${verdict(worst.rssMB <= rssBound)} peak RSS of any hook: ${f1(worst.rssMB)} MB (${worst.label}); target ≤ the node floor's ${f1(floor.rssMB)} MB + 6 MiB = ${f1(rssBound)} MB.`);
    const exp = await measureExporter(charm, work);
    targets.push(
      `- ${verdict(exp.vmRssMB <= EXPORTER_RSS_BUDGET_MB)} exporter (packed node, the unit's flags) after ${EXPORTER_SCRAPES} scrapes: VmRSS ${f1(exp.vmRssMB)} MB (anonymous ${f1(exp.anonMB)} MB); budget ≤ ${EXPORTER_RSS_BUDGET_MB} MB (its systemd MemoryMax is ${R.EXPORTER_MEMORY_MAX_MIB} MiB).`,
    );

    const header = [
      '# Benchmarks',
      '',
      `${started.toISOString()} · ${mach.cpu} · ${mach.cores} cores · Node ${nodeVersion} (the bundled runtime) · load average at start ${mach.load}`,
      `· \`${path.basename(artifact.path)}\` ${(artifact.size / 2 ** 20).toFixed(1)} MiB (dist/charm.js + chunks: ${(readdirSync(path.join(charm, 'dist')).reduce((s, f) => s + statSync(path.join(charm, 'dist', f)).size, 0) / 1024).toFixed(0)} KiB in ${readdirSync(path.join(charm, 'dist')).length} file(s))`,
      `· the first hook on a unit (and the first after an upgrade with a new runtime) unpacks node/bin/node.xz: ${unpacked.unpacked ? `${unpacked.ms} ms here` : 'already unpacked in this charm dir'}`,
      '',
      `Measured with \`npm run bench\` (scripts/bench.mjs): the packed .charm unzipped, its \`dispatch\` run through`,
      '`test/fakes/lib/run-in-context.sh` with the stand-in hook tools and host programs, rows round-robin,',
      `${RUNS} timed runs per row after a warm-up (openstack CLI: ${CLI_RUNS}). Builds are inert (the builder stand-in's`,
      '`run` exits 0 at once) and each is waited for before the next run.',
      '',
      '- **median / p95**: wall time from spawning run-in-context.sh to its exit, runs without any probe.',
      "- **tool calls**: lines the run added to the stand-in's calls.jsonl.",
      `- **stand-in tool ms**, **ms − tools** and **peak RSS**: from ${PROBE_RUNS} more runs per row in which NODE_OPTIONS`,
      '  preloads a probe that times the spawnSync binding (the framework\'s only hook-tool path) and reads the node',
      "  process's getrusage ru_maxrss (VmHWM) at exit. **ms − tools** is the median over those runs of each run's wall time",
      '  minus its own tool time; the floors get the same probe, so it cancels out of the comparisons. The stand-in tools',
      "  are one Node run of the simulator each (~28 ms); Juju's are a Go binary and a socket round trip, and their number has its own target.",
      "- **own ms** = ms − tools, minus the harness floor's median: the dispatch script and node as Juju's agent runs them (host programs",
      "  included); **× node floor** is the median, over the rounds, of each round's own ms over that round's node floor (ms − tools):",
      '  paired, so that the machine changing speed during the run moves both alike. The targets are these ratios (issue 15).',
      '',
    ];
    const toolLists = rows.filter((r) => r.tools).map((r) => `- ${r.label}: ${r.tools.join(', ') || 'none'}`);
    const md = [...header, ...table, '', '## Targets', '', ...targets, '', '## Hook-tool calls of the last run of each row', '', ...toolLists, ''].join('\n');
    console.log(md);
    if (!opt['no-write']) {
      mkdirSync(path.dirname(opt.out), { recursive: true });
      writeFileSync(opt.out, md);
      log(`wrote ${path.relative(process.cwd(), opt.out)}`);
    }
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        log(`cleanup: ${err.message}`);
      }
    }
    if (opt.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

const EXPORTER_SCRAPES = 500;
const EXPORTER_RSS_BUDGET_MB = 80;

/**
 * The exporter as the systemd unit runs it (the packed charm's node and flags), with state for
 * two bases, after EXPORTER_SCRAPES scrapes: its resident memory.
 */
async function measureExporter(charm, work) {
  const { spawn } = await import('node:child_process');
  const http = await import('node:http');
  const state = path.join(work, 'exporter-state');
  mkdirSync(state, { recursive: true });
  const now = Math.floor(Date.now() / 1000);
  writeFileSync(path.join(state, 'unit.json'), JSON.stringify({ arch: 'x64', bases: ['noble', 'jammy'], leader: true, interval_hours: 6, schedule_start: now - 86400, images: { noble: { id: 'i1', created_at: new Date().toISOString() } } }));
  for (const base of ['noble', 'jammy']) {
    writeFileSync(path.join(state, `build-${base}.json`), JSON.stringify({ started: 10, succeeded: 9, failed: 1, consecutive_failures: 0, last_duration_seconds: 3600, last_success_timestamp: now }));
  }
  const proc = spawn(path.join(charm, 'node/bin/node'), [...R.EXPORTER_NODE_FLAGS, path.join(charm, 'dist/exporter.js'), '--port', '0', '--state-dir', state], { stdio: ['ignore', 'pipe', 'inherit'], env: {} });
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /:(\d+)\/metrics/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      proc.on('exit', (code) => reject(new Error(`the exporter exited (${code}): ${out}`)));
    });
    const get = () =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
    for (let i = 0; i < EXPORTER_SCRAPES; i++) await get();
    const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { vmRssMB: kb('VmRSS') / 1024, anonMB: kb('RssAnon') / 1024 };
  } finally {
    proc.kill('SIGTERM');
  }
}

await main();

// The image copies between projects (issue 20): their own script, run last; its section follows the table.
if (!opt.rows || opt.rows.split(',').includes('copy')) {
  const { copyBench, writeSection } = await import('./bench-copy.mjs');
  const section = await copyBench();
  console.log(section);
  if (!opt['no-write']) writeSection(opt.out, section);
}
// A late consumer with its own project: image-relation-changed to its databag's id (issue 20).
if (!opt.rows || opt.rows.split(',').includes('late')) {
  const { lateJoinerBench, writeSection } = await import('./bench-late-joiner.mjs');
  const section = await lateJoinerBench();
  console.log(section);
  if (!opt['no-write']) writeSection(opt.out, section);
}
