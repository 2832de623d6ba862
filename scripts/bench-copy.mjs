// The image-copy bench (issue 20), against the real Glance of the OpenStack suite
// (scripts/openstack/start.sh): a copy between two projects against the floor of curl piping a
// download into an upload, the copying process's peak RSS against the node floor at two sizes,
// and three clouds at once against three in a row. Run by `npm run bench` (after the hook rows)
// or alone; it replaces its own section of bench/results.md and leaves the rest as it is.
//
//   node scripts/bench-copy.mjs [options]
//
//   --sizes A,B     image sizes in MiB for the copy-vs-floor and RSS rows (64,512)
//   --runs N        timed runs per row, ours and the floor alternating (5)
//   --three MiB     image size for the three-clouds rows (64)
//   --out FILE      the results file (bench/results.md); --no-write to only print
//
// The copying process is src/openstack bundled by esbuild into one file, run by this node (the
// runtime `npm run pack` ships by default) with the flags copy.ts asks for (COPY_NODE_FLAGS) and
// a file-size limit (prlimit --fsize) of 1 MiB: a copy that wrote the image anywhere on disk
// would be killed (SIGXFSZ) and the bench would fail. Its peak RSS (getrusage ru_maxrss) and the
// bytes it caused to be written to storage (/proc/self/io write_bytes) are read at exit by a
// preloaded probe; the node floor is the same node with the same probe running an empty script.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';
import YAML from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const SECTION = '## Image copy between projects (issue 20)';
const log = (...a) => console.error('bench-copy:', ...a);

const PROBE = `const fs = require('node:fs');
process.on('exit', () => {
  let writeBytes = -1;
  try { writeBytes = Number(/^write_bytes:\\s*(\\d+)/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))[1]); } catch {}
  fs.writeFileSync(process.env.COPY_BENCH_PROBE_OUT, JSON.stringify({ maxRssKB: process.resourceUsage().maxRSS, writeBytes }));
});
`;

/** What the copying process runs: the charm's own copy code, one process per copy (or per fan-out). */
const RUNNER = (src) => `import { readFileSync } from 'node:fs';
import { OpenStackClient, copyToClouds, parseCloudsYaml, resolveCloud } from ${JSON.stringify(src)};
const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const clouds = parseCloudsYaml(readFileSync(spec.cloudsYaml, 'utf8'));
const client = (name) => new OpenStackClient(resolveCloud(clouds, name));
const results = await copyToClouds(client(spec.source), spec.imageId, spec.destinations.map(client), { concurrency: spec.concurrency });
process.stdout.write(JSON.stringify(results.map((r) => (r.ok ? { ok: true, cloud: r.cloud, id: r.image.id, bytes: r.image.bytes, ms: r.image.durationMs } : { ok: false, cloud: r.cloud, error: r.error.message }))));
`;

/** The floor: the same requests by curl, the data piped from one curl into the other. */
const FLOOR_SH = `set -eu
tok() { curl -sS -f -o /dev/null -D - -H 'Content-Type: application/json' --data-binary @"$1" "$KS/auth/tokens" | tr -d '\\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'; }
ts=$(tok "$SRC_AUTH")
curl -sS -f -o /dev/null -H "X-Auth-Token: $ts" "$GL/v2/images/$SRC_ID"
td=$(tok "$DST_AUTH")
new=$(curl -sS -f -H "X-Auth-Token: $td" -H 'Content-Type: application/json' --data-binary @"$CREATE" "$GL/v2/images" | sed -n 's/.*"id": *"\\([0-9a-f-]*\\)".*/\\1/p')
curl -sS -f -H "X-Auth-Token: $ts" "$GL/v2/images/$SRC_ID/file" |
  curl -sS -f -X PUT -H "X-Auth-Token: $td" -H 'Content-Type: application/octet-stream' -T - "$GL/v2/images/$new/file"
curl -sS -f -o /dev/null -H "X-Auth-Token: $td" "$GL/v2/images/$new"
echo "$new"
`;

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f1 = (x) => x.toFixed(1);
const f2 = (x) => x.toFixed(2);

/** Runs the copy bench; returns its markdown section, or a line saying why it was skipped. */
export async function copyBench({ sizes = [64, 512], runs = 5, threeMiB = 64 } = {}) {
  const O = await tsImport('../test/support/openstack.ts', import.meta.url);
  const S = await tsImport('../src/openstack/index.ts', import.meta.url);
  const suite = await O.openstackSuite();
  if (!suite.up) return `${SECTION}\n\nskipped: ${suite.reason}\n`;
  if (suite.consumers.length < 2) return `${SECTION}\n\nskipped: the suite has no consumer projects (restart it: bash scripts/openstack/start.sh)\n`;

  const work = mkdtempSync(path.join(os.tmpdir(), 'copy-bench-'));
  const cleanups = [];
  try {
    // One clouds.yaml with the build cloud and the consumers, 0600 in our own temp dir.
    const all = YAML.parse(suite.cloudsYaml);
    Object.assign(all.clouds, YAML.parse(O.consumerCloudsYaml(suite)).clouds);
    const cloudsYaml = path.join(work, 'clouds.yaml');
    writeFileSync(cloudsYaml, YAML.stringify(all), { mode: 0o600 });
    const parsed = S.parseCloudsYaml(readFileSync(cloudsYaml, 'utf8'));
    const client = (name) => new S.OpenStackClient(S.resolveCloud(parsed, name));
    const [consumerA, consumerB] = suite.consumers;
    const build = client(suite.cloudName);
    const clientsByName = new Map([[suite.cloudName, build], ...suite.consumers.map((c) => [c.cloudName, client(c.cloudName)])]);

    // The copying process's code, bundled like the charm's.
    const runner = path.join(work, 'copy-runner.mjs');
    const esbuild = await import('esbuild');
    await esbuild.build({
      stdin: { contents: RUNNER(path.join(ROOT, 'src/openstack/index.ts')), resolveDir: ROOT, loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: runner,
      // yaml's CommonJS build requires node builtins.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      logLevel: 'error',
    });
    writeFileSync(path.join(work, 'probe.cjs'), PROBE);
    writeFileSync(path.join(work, 'empty.js'), '');

    /** Runs `args` under this node with the probe and a 1 MiB file-size limit (RLIMIT_FSIZE); its wall time, output and probe figures. */
    const runNode = (args, flags = []) => {
      const probeOut = path.join(work, 'probe.json');
      rmSync(probeOut, { force: true });
      const t = process.hrtime.bigint();
      const r = spawnSync('prlimit', [`--fsize=${MiB}`, '--', process.execPath, ...flags, '--require', path.join(work, 'probe.cjs'), ...args], {
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin', COPY_BENCH_PROBE_OUT: probeOut },
        timeout: 900_000,
        maxBuffer: 16 * MiB,
      });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status ?? r.signal}${r.signal === 'SIGXFSZ' ? ' (it wrote a file over 1 MiB)' : ''}: ${r.stderr.slice(-1500)}`);
      return { ms, stdout: r.stdout, ...JSON.parse(readFileSync(probeOut, 'utf8')) };
    };

    /** Our copy: one process, `destinations` at `concurrency`. Deletes the copies afterwards. */
    const ours = async (imageId, destinations, concurrency) => {
      const spec = path.join(work, 'spec.json');
      writeFileSync(spec, JSON.stringify({ cloudsYaml, source: suite.cloudName, imageId, destinations, concurrency }));
      const r = runNode([runner, spec], S.COPY_NODE_FLAGS);
      const results = JSON.parse(r.stdout);
      for (const x of results) {
        if (!x.ok) throw new Error(`copy to ${x.cloud} failed: ${x.error}`);
        await clientsByName.get(x.cloud).deleteImage(x.id);
      }
      return { ...r, results };
    };

    // The floor's inputs: both auth bodies (the client's own function) and the create body, 0600.
    const authFile = (name, cloudName) => {
      const file = path.join(work, `${name}.json`);
      writeFileSync(file, JSON.stringify(S.authRequestBody(S.resolveCloud(parsed, cloudName))), { mode: 0o600 });
      return file;
    };
    const floorEnv = {
      PATH: '/usr/bin:/bin',
      KS: suite.keystoneUrl,
      GL: suite.glanceUrl,
      SRC_AUTH: authFile('src-auth', suite.cloudName),
      DST_AUTH: authFile('dst-auth', consumerA.cloudName),
    };
    const floor = async (image) => {
      const create = path.join(work, 'create.json');
      writeFileSync(create, JSON.stringify(S.copiedFields(await build.getImage(image.id))));
      const t = process.hrtime.bigint();
      const r = spawnSync('sh', ['-c', FLOOR_SH], { encoding: 'utf8', env: { ...floorEnv, SRC_ID: image.id, CREATE: create }, timeout: 900_000 });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (r.status !== 0) throw new Error(`curl floor exited ${r.status ?? r.signal}: ${r.stderr.slice(-1500)}`);
      const id = r.stdout.trim();
      const dest = clientsByName.get(consumerA.cloudName);
      const copy = await dest.getImage(id);
      if (copy?.status !== 'active' || copy.size !== image.size) throw new Error(`curl floor: the copy ${id} is ${copy?.status} with ${copy?.size} bytes`);
      await dest.deleteImage(id);
      return { ms };
    };

    /** A source image of `mib` MiB in the build project, uploaded from a generator (nothing on disk). */
    const sourceImage = async (mib) => {
      const created = await build.createImage({ name: `copy-bench-${mib}mib`, disk_format: 'raw', container_format: 'bare', architecture: 'x86_64', hw_firmware_type: 'uefi', os_distro: 'ubuntu' });
      cleanups.push(() => build.deleteImage(created.id));
      const block = (await import('node:crypto')).randomBytes(MiB);
      const data = Readable.from((function* () {
        for (let i = 0; i < mib; i++) yield block;
      })());
      const t = performance.now();
      await build.uploadImage(created.id, data, mib * MiB);
      log(`source image of ${mib} MiB uploaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      return build.getImage(created.id);
    };

    const nodeFloor = [];
    for (let i = 0; i < runs; i++) nodeFloor.push(runNode([path.join(work, 'empty.js')]));
    const floorRssMB = median(nodeFloor.map((r) => r.maxRssKB)) / 1024;

    const rows = [];
    for (const mib of sizes) {
      const image = await sourceImage(mib);
      const mine = [];
      const curl = [];
      log(`${mib} MiB: ${runs} runs each, ours and the curl floor alternating`);
      for (let i = 0; i < runs; i++) {
        mine.push(await ours(image.id, [consumerA.cloudName], 1));
        curl.push(await floor(image));
      }
      const ratios = mine.map((m, i) => m.ms / curl[i].ms);
      rows.push({
        mib,
        ms: median(mine.map((m) => m.ms)),
        floorMs: median(curl.map((c) => c.ms)),
        ratio: median(ratios),
        ratioRange: [Math.min(...ratios), Math.max(...ratios)],
        bestMs: Math.min(...mine.map((m) => m.ms)),
        bestFloorMs: Math.min(...curl.map((c) => c.ms)),
        rssMB: Math.max(...mine.map((m) => m.maxRssKB)) / 1024,
        writeBytes: Math.max(...mine.map((m) => m.writeBytes)),
        bytes: mine[0].results[0].bytes,
      });
      await build.deleteImage(image.id);
    }

    const three = await sourceImage(threeMiB);
    const dests = [consumerA.cloudName, consumerB.cloudName, suite.cloudName];
    const atOnce = [];
    const inRow = [];
    log(`three clouds of ${threeMiB} MiB: ${runs} runs each, at once and in a row alternating`);
    for (let i = 0; i < runs; i++) {
      atOnce.push(await ours(three.id, dests, 3));
      inRow.push(await ours(three.id, dests, 1));
    }
    await build.deleteImage(three.id);

    const verdict = (ok) => (ok ? 'PASS' : 'MISS');
    const rssBound = floorRssMB + 32 * 1.048576;
    const table = [
      '| row | image | runs | median s | MiB/s | × curl floor (median, range) | peak RSS MB | written to disk |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      `| node floor: this node, empty script, same probe | — | ${runs} | ${f2(median(nodeFloor.map((r) => r.ms)) / 1000)} | — | — | ${f1(floorRssMB)} | ${Math.max(...nodeFloor.map((r) => r.writeBytes))} B |`,
      ...rows.flatMap((r) => [
        `| curl floor: curl GET file \\| curl PUT file (+ 2 token POSTs, source GET, create POST, copy GET) | ${r.mib} MiB | ${runs} | ${f2(r.floorMs / 1000)} | ${f1(r.mib / (r.floorMs / 1000))} | — | — | — |`,
        `| copyImage, one process (bundled src/openstack) | ${r.mib} MiB | ${runs} | ${f2(r.ms / 1000)} | ${f1(r.mib / (r.ms / 1000))} | ${f2(r.ratio)}x (${f2(r.ratioRange[0])}–${f2(r.ratioRange[1])}) | ${f1(r.rssMB)} | ${r.writeBytes} B |`,
      ]),
      `| copyToClouds, 3 clouds at once (concurrency 3) | 3 × ${threeMiB} MiB | ${runs} | ${f2(median(atOnce.map((r) => r.ms)) / 1000)} | ${f1((3 * threeMiB) / (median(atOnce.map((r) => r.ms)) / 1000))} | — | ${f1(Math.max(...atOnce.map((r) => r.maxRssKB)) / 1024)} | ${Math.max(...atOnce.map((r) => r.writeBytes))} B |`,
      `| copyToClouds, 3 clouds in a row (concurrency 1) | 3 × ${threeMiB} MiB | ${runs} | ${f2(median(inRow.map((r) => r.ms)) / 1000)} | ${f1((3 * threeMiB) / (median(inRow.map((r) => r.ms)) / 1000))} | — | ${f1(Math.max(...inRow.map((r) => r.maxRssKB)) / 1024)} | ${Math.max(...inRow.map((r) => r.writeBytes))} B |`,
    ];
    const targets = [
      ...rows.map((r) => {
        // Other processes slow single runs down: the medians' ratio and the best runs' say how much.
        const said =
          `copy of ${r.mib} MiB (${r.bytes} bytes, hash-verified): ${f2(r.ratio)}x the curl floor (median of ${runs} paired runs' ratios, range ${f2(r.ratioRange[0])}–${f2(r.ratioRange[1])}); ` +
          `medians ${f2(r.ms / 1000)} s vs ${f2(r.floorMs / 1000)} s = ${f2(r.ms / r.floorMs)}x; best runs ${f2(r.bestMs / 1000)} s vs ${f2(r.bestFloorMs / 1000)} s = ${f2(r.bestMs / r.bestFloorMs)}x`;
        // The target is for 512 MiB; smaller copies are reported (a process start weighs more there).
        return r.mib >= 512 ? `- ${verdict(r.ratio <= 1.15)} ${said}; target ≤ 1.15x (on the paired median).` : `- ${said}; no target at this size (the issue's is for 512 MiB).`;
      }),
      ...rows.map((r) => `- ${verdict(r.rssMB <= rssBound)} peak RSS copying ${r.mib} MiB: ${f1(r.rssMB)} MB; target ≤ node floor ${f1(floorRssMB)} MB + 32 MiB = ${f1(rssBound)} MB.`),
      `- ${verdict(rows.every((r) => r.writeBytes < MiB))} nothing of the image on disk: every copy ran with its file-size limit (RLIMIT_FSIZE, \`prlimit --fsize\`) at 1 MiB (a larger file would have killed it) and caused at most ${Math.max(...rows.map((r) => r.writeBytes))} bytes of storage writes (/proc/self/io write_bytes).`,
      `- three clouds (${dests.join(', ')}) of ${threeMiB} MiB each: at once ${f2(median(atOnce.map((r) => r.ms)) / 1000)} s, in a row ${f2(median(inRow.map((r) => r.ms)) / 1000)} s (no target: both reported). One Glance process on 2 cores writes and hashes all three, so at once gains only what the overlap of requests allows.`,
    ];
    const mach = `${new Date().toISOString()} · ${os.cpus()[0]?.model ?? 'unknown'} · ${os.availableParallelism?.() ?? os.cpus().length} cores · Node ${process.version} · load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
    return [
      SECTION,
      '',
      mach,
      '',
      `Measured with \`node scripts/bench-copy.mjs\` (also the last part of \`npm run bench\`) against the suite's real Keystone + Glance on loopback (Glance's file store on this machine's disk): a source image in project \`demo\` copied into project \`${consumerA.projectName}\` (another user). The copying process is src/openstack bundled by esbuild, run by this node (\`npm run pack\` ships this same binary) with COPY_NODE_FLAGS (\`${S.COPY_NODE_FLAGS.join(' ')}\`), timed from spawn to exit (auth, source details, create, the streamed data, the hash check). The curl floor makes the same requests in one shell (\`curl -T -\` reading the downloading curl's output); each copy is deleted after its run. Runs alternate ours and the floor; ratios are per pair.`,
      '',
      ...table,
      '',
      '### Targets',
      '',
      ...targets,
      '',
    ].join('\n');
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // already deleted
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
}

/** Puts `section` into the results file in place of its previous version (or at the end). */
export function writeSection(file, section) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const at = text.indexOf(SECTION);
  const kept = at === -1 ? text.trimEnd() : text.slice(0, at).trimEnd();
  writeFileSync(file, `${kept}\n\n${section.trimEnd()}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: opt } = parseArgs({
    options: {
      sizes: { type: 'string', default: '64,512' },
      runs: { type: 'string', default: '5' },
      three: { type: 'string', default: '64' },
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
  const sizes = opt.sizes.split(',').map(Number);
  const runs = Number(opt.runs);
  const threeMiB = Number(opt.three);
  if (!sizes.every((s) => Number.isInteger(s) && s > 0) || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(threeMiB) || threeMiB < 1) {
    console.error('bench-copy: --sizes, --runs and --three take positive integers');
    process.exit(2);
  }
  const section = await copyBench({ sizes, runs, threeMiB });
  console.log(section);
  if (!opt['no-write']) {
    writeSection(opt.out, section);
    log(`wrote ${path.relative(process.cwd(), opt.out)}`);
  }
}
