// charmcraft.yaml's part, run as charmcraft would run it (charmcraft itself cannot run here): its
// override-build script, with bash, cwd and $CRAFT_PART_BUILD/$CRAFT_PART_SRC the repository
// (the script only reads it; PACK_SKIP_NPM_CI=1 uses its node_modules instead of a slow npm ci),
// $CRAFT_PART_INSTALL an empty temporary dir, and this Node 20 on PATH. What it installs must be
// the unzipped .charm of `npm run pack`, file for file (paths, modes, contents), but for the
// manifest.yaml charmcraft writes itself.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, cleanup, listFiles, pack, run, tempDir, unzip, type Packed } from './helpers.js';

interface Part {
  plugin?: string;
  source?: string;
  'build-packages'?: string[];
  'build-snaps'?: string[];
  'override-build'?: string;
}

const charmcraft = parse(readFileSync(path.join(ROOT, 'charmcraft.yaml'), 'utf8')) as { type?: string; parts?: Record<string, Part> };
let packed: Packed;
let unzipped: string;
let install: string;
let build: { status: number | null; stdout: string; stderr: string };

/** path -> "mode sha256" of every file under `dir` but manifest.yaml. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of listFiles(dir)) {
    if (f === 'manifest.yaml') continue;
    const mode = (statSync(path.join(dir, f)).mode & 0o7777).toString(8);
    out[f] = `${mode} ${createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')}`;
  }
  return out;
}

beforeAll(() => {
  const script = charmcraft.parts?.charm?.['override-build'];
  expect(script, 'charmcraft.yaml: parts.charm.override-build').toEqual(expect.any(String));
  install = tempDir('craft-install');
  build = run('bash', ['-c', script!], {
    cwd: ROOT,
    env: {
      PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: process.env.HOME ?? '/root',
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      CRAFT_PART_NAME: 'charm',
      CRAFT_PART_SRC: ROOT,
      CRAFT_PART_BUILD: ROOT,
      CRAFT_PART_INSTALL: install,
      PACK_SKIP_NPM_CI: '1',
    },
  });
  packed = pack();
  unzipped = unzip(packed.path);
});

afterAll(() => cleanup(install, unzipped, packed?.workDir));

describe("charmcraft.yaml's charm part", () => {
  it('is a nil-plugin part of the project dir that installs binutils (strip), xz-utils and git, and the node snap', () => {
    expect(charmcraft.type).toBe('charm');
    const part = charmcraft.parts!.charm!;
    expect(part.plugin).toBe('nil');
    expect(part.source).toBe('.');
    expect(part['build-packages']).toEqual(expect.arrayContaining(['binutils', 'xz-utils', 'git']));
    expect(part['build-snaps']).toEqual(['node/20/stable']);
  });

  it('runs its override-build with bash and exits 0', () => {
    expect(build.status, build.stdout + build.stderr).toBe(0);
  });

  it('installs the same files as the packed .charm (but manifest.yaml), with the same modes and contents', () => {
    expect(packed.charm, 'the real charm builds').toBe('real');
    const installed = tree(install);
    const charm = tree(unzipped);
    // The version file follows git: allow a commit landing between the two builds.
    if (installed.version !== charm.version) {
      expect(readFileSync(path.join(install, 'version'), 'utf8')).toMatch(/^\S+\n$/);
      delete installed.version;
      delete charm.version;
    }
    expect(installed).toEqual(charm);
    expect(Object.keys(installed)).toEqual(expect.arrayContaining(['dispatch', 'hooks/install', 'dist/charm.js', 'dist/exporter.js', 'dist/copier.js', 'dist/package.json', 'node/bin/node.xz', 'node/bin/node.id']));
    expect(Object.keys(installed)).not.toContain('node/bin/node');
  });

  it('installs the stripped runtime, which its dispatch unpacks on the first run, and which runs the exporter', () => {
    const charm = tempDir('craft-charm');
    try {
      cpSync(install, charm, { recursive: true }); // the installed tree stays as built
      const first = run(path.join(charm, 'dispatch'), [], { env: { PATH: '/usr/bin:/bin' }, cwd: charm });
      expect(first.stderr).toContain('ERROR environment variable JUJU_UNIT_NAME is not set');
      expect(first.status, first.stderr).toBe(2);
      const node = path.join(charm, 'node/bin/node');
      expect(readFileSync(path.join(charm, 'node/bin/node.unpacked-id'), 'utf8')).toBe(readFileSync(path.join(charm, 'node/bin/node.id'), 'utf8'));
      expect(`${createHash('sha256').update(readFileSync(node)).digest('hex')}\n`).toBe(readFileSync(path.join(charm, 'node/bin/node.id'), 'utf8'));
      const elf = run('readelf', ['-SW', node]);
      expect(elf.stdout).not.toMatch(/\s\.symtab\s/);
      const r = run(node, [path.join(charm, 'dist/exporter.js'), '--help'], { env: {} });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      cleanup(charm);
    }
  });
});
