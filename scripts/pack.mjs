// npm run pack: builds the charm and writes <name>_ubuntu-22.04-<arch>.charm, the zip Juju
// deploys, with the Node.js runtime of this machine inside (Ubuntu 22.04/24.04 ship Node 12/18).
//
//   npm run pack [-- options]        node scripts/pack.mjs [options]
//
// Options (each also as an environment variable; relative paths are from the current directory):
//   --entry FILE        PACK_ENTRY       charm entry point      (src/charm/main.ts)
//   --charm-dir DIR     PACK_CHARM_DIR   metadata/config/actions.yaml, README.md, LICENSE (.)
//   --out-dir DIR       PACK_OUT_DIR     where the .charm goes  (the repository root)
//   --output FILE       PACK_OUTPUT      the .charm's full path (overrides --out-dir and the name)
//   --bundle FILE       PACK_BUNDLE      where the build writes the bundle, its chunks, the
//                                        exporter (exporter.js, from src/exporter/main.ts) and the
//                                        copier (copier.js, from src/copier/main.ts) next to it
//                                        (dist/charm.js for the default entry, else a temporary file)
//   --no-build          PACK_NO_BUILD=1  pack the existing --bundle (and the chunks it imports) and
//                                        the exporter.js and copier.js next to it as is
//   --metafile FILE     PACK_METAFILE    also write esbuild's metafile there
//   --node FILE         PACK_NODE        the Node.js runtime to ship (this node: process.execPath)
//   --no-strip          PACK_NO_STRIP=1  ship the runtime as is, not a copy stripped of its symbols
//   --no-xz             PACK_NO_XZ=1     ship the runtime uncompressed, as node/bin/node (deflated in
//                                        the zip; a bigger .charm, for debugging: nothing to unpack)
//   --cache-dir DIR     PACK_CACHE_DIR   where compressed runtimes are kept, by the sha256 of the
//                                        runtime, the xz options and xz's version
//                                        (node_modules/.cache/charm-runtime)
//   --no-cache          PACK_NO_CACHE=1  compress the runtime afresh, neither reading nor filling the cache
//   --level N           PACK_LEVEL       deflate level, 1-9     (6)
//   --tree DIR          PACK_TREE        write the charm's files (all but manifest.yaml) into DIR,
//                                        with their modes, instead of a .charm (charmcraft.yaml's
//                                        part runs this, with DIR its $CRAFT_PART_INSTALL)
//   --json                               print a JSON summary as the last line of stdout
// SOURCE_DATE_EPOCH, if set, is the time of every entry and of the manifest; else the time of
// the last commit. The dispatch script and hooks/ always come from the repository root.
// The runtime is shipped as `strip --strip-all` (binutils) leaves a copy of it: the symbols and
// debug info are ~12 MiB of a Node binary and nothing at run time uses them (stack traces of
// JavaScript code do not; only native debuggers and perf would). strip is deterministic, so packs
// stay byte-reproducible. The machine's own node is never modified.
// That copy is then compressed with xz (xz-utils; scripts/runtime.mjs has the fixed options and
// the cache) and shipped as node/bin/node.xz, stored in the zip as is, with node/bin/node.id (its
// sha256): `dispatch` unpacks it to node/bin/node on the unit's first hook (~1.5 s), and again
// after an upgrade brings another runtime. xz is deterministic for the same input, options and
// version, so packs stay byte-reproducible; the first pack of a runtime takes ~20 s more (two
// cores), later ones read the cache.
// The zip is written by yazl: files only, in name order, each with its Unix mode ("made by" Unix,
// so unzip and Go's archive/zip, which Juju uses, restore the exec bits) and that fixed time.
import { spawnSync } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { DEFAULT_CACHE_DIR, RUNTIME, RUNTIME_ID, RUNTIME_XZ, RuntimeError, compressRuntime, readOptional } from './runtime.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_ENTRY = 'src/charm/main.ts';
const MANDATORY_HOOKS = ['install', 'start', 'upgrade-charm']; // charmcraft's, for Juju < 2.8
const CHANNELS = ['22.04', '24.04'];
const OLDEST_GLIBC = [2, 35]; // Ubuntu 22.04's
const ARCHES = { x64: { deb: 'amd64', elfMachine: 62 }, arm64: { deb: 'arm64', elfMachine: 183 } };

class PackError extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      entry: { type: 'string' },
      'charm-dir': { type: 'string' },
      'out-dir': { type: 'string' },
      output: { type: 'string' },
      bundle: { type: 'string' },
      'no-build': { type: 'boolean' },
      metafile: { type: 'string' },
      node: { type: 'string' },
      level: { type: 'string' },
      'no-strip': { type: 'boolean' },
      'no-xz': { type: 'boolean' },
      'cache-dir': { type: 'string' },
      'no-cache': { type: 'boolean' },
      tree: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    const src = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    console.log(src.split('\nimport ')[0].replace(/^\/\/ ?/gm, ''));
    process.exit(0);
  }
  const env = process.env;
  const flag = (v, e) => v ?? (e !== undefined && e !== '' && e !== '0');
  const abs = (p) => (p === undefined || p === '' ? undefined : path.resolve(p));
  const entry = abs(values.entry ?? env.PACK_ENTRY) ?? path.join(ROOT, DEFAULT_ENTRY);
  const charmDir = abs(values['charm-dir'] ?? env.PACK_CHARM_DIR) ?? ROOT;
  const isDefault = entry === path.join(ROOT, DEFAULT_ENTRY) && charmDir === ROOT;
  const level = Number(values.level ?? env.PACK_LEVEL ?? 6);
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new PackError(`--level must be 1-9, not ${values.level ?? env.PACK_LEVEL}`);
  const bundle = abs(values.bundle ?? env.PACK_BUNDLE) ?? (isDefault ? path.join(ROOT, 'dist/charm.js') : undefined);
  const build = !flag(values['no-build'], env.PACK_NO_BUILD);
  if (!build && !bundle) throw new PackError('--no-build with another entry or charm dir needs --bundle FILE');
  if (bundle && ['exporter.js', 'copier.js'].includes(path.basename(bundle))) throw new PackError(`--bundle must not be named ${path.basename(bundle)}: the exporter and the copier are written next to it`);
  return {
    entry,
    charmDir,
    outDir: abs(values['out-dir'] ?? env.PACK_OUT_DIR) ?? ROOT,
    output: abs(values.output ?? env.PACK_OUTPUT),
    bundle,
    build,
    metafile: abs(values.metafile ?? env.PACK_METAFILE),
    node: abs(values.node ?? env.PACK_NODE) ?? process.execPath,
    level,
    strip: !flag(values['no-strip'], env.PACK_NO_STRIP),
    xz: !flag(values['no-xz'], env.PACK_NO_XZ),
    cacheDir: flag(values['no-cache'], env.PACK_NO_CACHE) ? null : (abs(values['cache-dir'] ?? env.PACK_CACHE_DIR) ?? DEFAULT_CACHE_DIR),
    tree: abs(values.tree ?? env.PACK_TREE),
    json: values.json ?? false,
  };
}

function git(...args) {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * The bundle's chunks (scripts/bundle.mjs splits rarely used modules out): the files next to
 * it that it requires, transitively. The bundle writes those as literal require("./<file>.js").
 */
function chunksOf(entryFile) {
  const dir = path.dirname(entryFile);
  const seen = new Set();
  const visit = (file) => {
    for (const m of readFileSync(file, 'utf8').matchAll(/\brequire\(\s*["']\.\/([^"'/]+\.js)["']/g)) {
      if (seen.has(m[1]) || !existsSync(path.join(dir, m[1]))) continue;
      seen.add(m[1]);
      visit(path.join(dir, m[1]));
    }
  };
  visit(entryFile);
  return [...seen].sort();
}

/** The exporter's bundle: next to the charm's. */
const exporterOf = (bundle) => path.join(path.dirname(bundle), 'exporter.js');
/** The copier's bundle: next to the charm's. */
const copierOf = (bundle) => path.join(path.dirname(bundle), 'copier.js');

/** Builds the bundle, the exporter and the copier (what `npm run build` does) and checks that they import only Node built-ins. */
async function build(opts) {
  const { bundleCharm, bundleCopier, bundleExporter } = await import('./bundle.mjs');
  const result = await bundleCharm({ entry: opts.entry, outfile: opts.bundle, charmDir: opts.charmDir, metafile: true });
  const outputs = Object.entries(result.metafile.outputs);
  const dir = path.dirname(opts.bundle);
  const stray = outputs.filter(([f]) => path.dirname(path.resolve(f)) !== dir);
  if (stray.length) throw new PackError(`the build wrote ${stray.map(([f]) => f).join(', ')}, outside ${dir}`);
  const scanned = chunksOf(opts.bundle);
  const wrote = outputs.map(([f]) => path.basename(f)).filter((f) => f !== path.basename(opts.bundle)).sort();
  if (scanned.join() !== wrote.join()) throw new PackError(`the bundle imports the chunks ${scanned.join(', ') || '(none)'}, but the build wrote ${wrote.join(', ') || '(none)'}`);
  const exporter = await bundleExporter({ outfile: exporterOf(opts.bundle), metafile: true });
  const exporterOutputs = Object.entries(exporter.metafile.outputs);
  if (exporterOutputs.length !== 1) throw new PackError(`the exporter's build wrote ${exporterOutputs.map(([f]) => f).join(', ')}, not one file`);
  const copier = await bundleCopier({ outfile: copierOf(opts.bundle), metafile: true });
  const copierOutputs = Object.entries(copier.metafile.outputs);
  if (copierOutputs.length !== 1) throw new PackError(`the copier's build wrote ${copierOutputs.map(([f]) => f).join(', ')}, not one file`);
  const builtins = new Set(builtinModules);
  const foreign = [...outputs, ...exporterOutputs, ...copierOutputs].flatMap(([, o]) => o.imports).filter((i) => i.external && !i.path.startsWith('node:') && !builtins.has(i.path));
  if (foreign.length) throw new PackError(`the bundle imports modules from outside the charm: ${foreign.map((i) => i.path).join(', ')}`);
  if (opts.metafile) writeFileSync(opts.metafile, JSON.stringify(result.metafile, null, 2));
}

/** The ELF checks that matter for shipping a runtime: class, endianness, machine, and glibc. */
function checkElf(file, buf, arch) {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new PackError(`${file} is not an ELF executable`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new PackError(`${file} is not a 64-bit little-endian ELF`);
  const machine = buf.readUInt16LE(18);
  if (machine !== ARCHES[arch].elfMachine) throw new PackError(`${file} is for ELF machine ${machine}, not ${ARCHES[arch].deb}`);
  // The highest GLIBC_x.y among the versions it needs (in .dynstr) must exist on Ubuntu 22.04.
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const section = (i) => {
    const h = shoff + i * shentsize;
    return { name: buf.readUInt32LE(h), offset: Number(buf.readBigUInt64LE(h + 0x18)), size: Number(buf.readBigUInt64LE(h + 0x20)) };
  };
  const names = section(buf.readUInt16LE(0x3e));
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const end = buf.indexOf(0, names.offset + s.name);
    if (buf.toString('latin1', names.offset + s.name, end) !== '.dynstr') continue;
    let newest = [0, 0];
    for (const m of buf.toString('latin1', s.offset, s.offset + s.size).matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
      const v = [Number(m[1]), Number(m[2])];
      if (v[0] > newest[0] || (v[0] === newest[0] && v[1] > newest[1])) newest = v;
    }
    if (newest[0] > OLDEST_GLIBC[0] || (newest[0] === OLDEST_GLIBC[0] && newest[1] > OLDEST_GLIBC[1])) {
      throw new PackError(`${file} needs GLIBC_${newest.join('.')}, newer than Ubuntu 22.04's ${OLDEST_GLIBC.join('.')}`);
    }
  }
}

function nodeVersion(file) {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', env: {} });
  const m = /^v(\d+)\.\d+\.\d+/.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) throw new PackError(`${file} --version failed: ${r.error?.message ?? r.stderr}`);
  if (Number(m[1]) < 20) throw new PackError(`${file} is Node ${r.stdout.trim()}; the charm needs Node >= 20`);
  return r.stdout.trim();
}

/** A copy of the runtime without its symbols and debug info (`strip --strip-all`, binutils). */
function stripped(file) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'charm-strip-'));
  try {
    const out = path.join(dir, 'node');
    const r = spawnSync('strip', ['--strip-all', '-o', out, file], { encoding: 'utf8' });
    if (r.error?.code === 'ENOENT') throw new PackError('strip not found: install binutils (or pass --no-strip to ship the runtime unstripped)');
    if (r.status !== 0) throw new PackError(`strip --strip-all ${file} failed: ${r.error?.message ?? r.stderr}`);
    return { file: out, data: readFileSync(out), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function nodeLicense(node) {
  const dirs = [...new Set([path.dirname(node), path.dirname(realpathSync(node))])];
  const candidates = [
    ...dirs.map((d) => path.join(d, '../share/doc/node/LICENSE')),
    ...dirs.map((d) => path.join(d, '../LICENSE')),
    '/usr/local/share/doc/node/LICENSE',
    '/usr/share/doc/nodejs/LICENSE',
    '/usr/share/doc/nodejs/copyright',
  ];
  for (const file of candidates) {
    const data = readOptional(file);
    if (data?.length) return { file, data };
  }
  return undefined;
}

/**
 * Writes `files` ({ name, data, mode }, in the given order) to `file` with yazl, through a
 * temporary file renamed into place; every entry's time is `epoch`. A file is deflated unless that
 * does not make it smaller (tried on all but the uncompressed runtime, which always shrinks, and
 * the xz one, which never does: `store`). Returns the entries.
 */
async function writeZip(file, files, { epoch, level }) {
  // yazl writes the DOS date/time fields in local time: UTC keeps them the same on every machine.
  process.env.TZ = 'UTC';
  const { default: yazl } = await import('yazl');
  const zip = new yazl.ZipFile();
  zip.on('error', (err) => zip.outputStream.destroy(err));
  const entries = files.map(({ name, data, mode, alwaysDeflate, store }) => {
    const deflate = data.length > 0 && !store && (alwaysDeflate || deflateRawSync(data, { level }).length < data.length);
    zip.addBuffer(data, name, { mtime: new Date(epoch * 1000), mode: 0o100000 | mode, compressionLevel: deflate ? level : 0 });
    return { name, mode: `0${mode.toString(8)}`, size: data.length, method: deflate ? 'deflate' : 'store' };
  });
  zip.end();
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await pipeline(zip.outputStream, createWriteStream(tmp, { mode: 0o644 }));
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return entries;
}

/** Writes `files` under `dir` with their modes (whatever the umask); returns the entries. */
function writeTree(dir, files) {
  return files.map(({ name, data, mode }) => {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    rmSync(file, { force: true });
    writeFileSync(file, data, { mode });
    chmodSync(file, mode);
    return { name, mode: `0${mode.toString(8)}`, size: data.length, method: 'file' };
  });
}

function manifest(arch, epoch, version) {
  return stringify({
    'charmcraft-version': version,
    'charmcraft-started-at': new Date(epoch * 1000).toISOString(),
    bases: CHANNELS.map((channel) => ({ name: 'ubuntu', channel, architectures: [arch] })),
    analysis: {
      attributes: [
        { name: 'language', result: 'javascript' },
        { name: 'framework', result: 'unknown' },
      ],
    },
  });
}

async function pack(opts) {
  const started = performance.now();
  const arch = ARCHES[process.arch] ? process.arch : undefined;
  if (!arch) throw new PackError(`unsupported architecture ${process.arch} (amd64 and arm64 only)`);
  const deb = ARCHES[arch].deb;

  const metadataText = readOptional(path.join(opts.charmDir, 'metadata.yaml'));
  if (!metadataText) throw new PackError(`no metadata.yaml in ${opts.charmDir}`);
  const name = parse(metadataText.toString('utf8'))?.name;
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new PackError(`metadata.yaml has no valid name`);
  const output = opts.output ?? path.join(opts.outDir, `${name}_ubuntu-22.04-${deb}.charm`);

  // 1. The bundle.
  let tmpDir;
  if (!opts.bundle) {
    tmpDir = mkdtempSync(path.join(os.tmpdir(), 'charm-pack-'));
    opts.bundle = path.join(tmpDir, 'charm.js');
  }
  try {
    if (opts.build) await build(opts);
    const bundle = readOptional(opts.bundle);
    if (!bundle) throw new PackError(`${opts.bundle} does not exist${opts.build ? '' : ' (run the build, or drop --no-build)'}`);
    const exporter = readOptional(exporterOf(opts.bundle));
    if (!exporter) throw new PackError(`${exporterOf(opts.bundle)} does not exist${opts.build ? '' : ' (run the build, or drop --no-build)'}`);
    const copier = readOptional(copierOf(opts.bundle));
    if (!copier) throw new PackError(`${copierOf(opts.bundle)} does not exist${opts.build ? '' : ' (run the build, or drop --no-build)'}`);
    const built = performance.now();

    // 2. The runtime.
    const nodeFile = realpathSync(opts.node);
    const nodeOriginal = readFileSync(nodeFile);
    checkElf(nodeFile, nodeOriginal, arch);
    let nodeData = nodeOriginal;
    let runtime = nodeVersion(nodeFile);
    if (opts.strip) {
      const s = stripped(nodeFile);
      try {
        checkElf(`${nodeFile} (stripped)`, s.data, arch);
        const again = nodeVersion(s.file); // the stripped copy still starts, and is the same Node
        if (again !== runtime) throw new PackError(`the stripped ${nodeFile} is Node ${again}, not ${runtime}`);
        nodeData = s.data;
      } finally {
        s.cleanup();
      }
    }
    const license = nodeLicense(opts.node);
    const xz = opts.xz ? await compressRuntime(nodeData, { arch, cacheDir: opts.cacheDir }) : undefined;

    // 3. The archive.
    const envEpoch = Number(process.env.SOURCE_DATE_EPOCH);
    const epoch = Number.isInteger(envEpoch) && envEpoch > 0 ? envEpoch : Number(git('log', '-1', '--format=%ct')) || 315532800;
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const dispatch = readFileSync(path.join(ROOT, 'dispatch'));
    const hookNames = new Set([...MANDATORY_HOOKS, ...(existsSync(path.join(ROOT, 'hooks')) ? readdirSync(path.join(ROOT, 'hooks')) : [])]);
    const describe = git('describe', '--tags', '--always', '--dirty');

    const files = [
      { name: 'manifest.yaml', data: Buffer.from(manifest(deb, epoch, `${pkg.version}+pack.mjs`)), mode: 0o644 },
      { name: 'metadata.yaml', data: metadataText, mode: 0o644 },
      { name: 'dispatch', data: dispatch, mode: 0o755 },
      ...[...hookNames].map((h) => ({ name: `hooks/${h}`, data: readOptional(path.join(ROOT, 'hooks', h)) ?? dispatch, mode: 0o755 })),
      { name: 'dist/charm.js', data: bundle, mode: 0o644 },
      ...chunksOf(opts.bundle).map((c) => ({ name: `dist/${c}`, data: readFileSync(path.join(path.dirname(opts.bundle), c)), mode: 0o644 })),
      { name: 'dist/exporter.js', data: exporter, mode: 0o644 },
      { name: 'dist/copier.js', data: copier, mode: 0o644 },
      // The bundle's format (scripts/bundle.mjs writes it next to the bundle): node then searches
      // no parent directory for a package.json.
      { name: 'dist/package.json', data: readFileSync(path.join(path.dirname(opts.bundle), 'package.json')), mode: 0o644 },
      ...(xz
        ? [
            { name: RUNTIME_XZ, data: xz.data, mode: 0o644, store: true },
            { name: RUNTIME_ID, data: Buffer.from(`${xz.id}\n`), mode: 0o644 },
          ]
        : [{ name: RUNTIME, data: nodeData, mode: 0o755, alwaysDeflate: true }]),
    ];
    for (const f of ['config.yaml', 'actions.yaml', 'README.md', 'LICENSE']) {
      const data = readOptional(path.join(opts.charmDir, f));
      if (data) files.push({ name: f, data, mode: 0o644 });
    }
    if (license) files.push({ name: 'node/LICENSE', data: license.data, mode: 0o644 });
    if (describe) files.push({ name: 'version', data: Buffer.from(`${describe}\n`), mode: 0o644 });
    files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    let entries;
    let size;
    if (opts.tree) {
      entries = writeTree(opts.tree, files.filter((f) => f.name !== 'manifest.yaml'));
      size = entries.reduce((n, e) => n + e.size, 0);
    } else {
      mkdirSync(path.dirname(output), { recursive: true });
      entries = await writeZip(output, files, { epoch, level: opts.level });
      size = statSync(output).size;
    }
    const ms = Math.round(performance.now() - started);
    return {
      path: opts.tree ?? output,
      size,
      ms,
      buildMs: opts.build ? Math.round(built - started) : 0,
      node: runtime,
      nodeSize: nodeData.length,
      nodeStripped: opts.strip,
      nodeXz: xz ? { file: RUNTIME_XZ, size: xz.data.length, id: xz.id, args: xz.args, version: xz.version.split('\n')[0], cached: xz.cached, ms: xz.ms } : null,
      nodeLicense: license?.file,
      arch: deb,
      entries,
    };
  } finally {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  }
}

try {
  const cwd = process.cwd();
  const opts = options();
  const r = await pack(opts);
  const shown = path.relative(cwd, r.path).startsWith('..') ? r.path : path.relative(cwd, r.path);
  console.log(
    `${shown}${opts.tree ? '/' : ''} ${(r.size / 2 ** 20).toFixed(1)} MiB, ${r.entries.length} files, Node ${r.node} ${r.arch}` +
      ` (${[r.nodeStripped ? 'stripped' : 'not stripped', r.nodeXz ? `xz ${(r.nodeXz.size / 2 ** 20).toFixed(1)} MiB${r.nodeXz.cached ? ', cached' : `, ${(r.nodeXz.ms / 1000).toFixed(1)} s`}` : 'not compressed'].join(', ')})` +
      ` (${(r.ms / 1000).toFixed(1)} s)`,
  );
  if (opts.json) console.log(JSON.stringify(r));
} catch (err) {
  if (err instanceof PackError || err instanceof RuntimeError) {
    console.error(`pack: ${err.message}`);
  } else if (String(err?.code).startsWith('ERR_PARSE_ARGS')) {
    console.error(`pack: ${err.message} (see --help)`);
  } else if (Array.isArray(err?.errors) && err.errors.length) {
    console.error('pack: the build failed (errors above)'); // esbuild already printed them
  } else {
    console.error(err);
  }
  process.exit(1);
}
