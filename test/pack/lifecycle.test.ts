// What an operator deploys is the .charm, so the lifecycle runs from the packed file: unzipped
// into a charm dir, driven through its dispatch (and legacy hooks/install) with a PATH on which
// there is no `node` at all, as on Ubuntu 22.04/24.04 machines without Node 20. The charm ships
// the runtime as node/bin/node.xz: the first hook unpacks it, every later one runs that node.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyCharmDir } from '../support/charm-dir.js';
import { FIRST_IMAGE_STATUS } from '../support/charm-units.js';
import { createUnit, type SimUnit } from '../support/juju.js';
import { cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import { cleanup, pack, tempDir, unzip, type Packed } from './helpers.js';

let packed: Packed;
let charmDir: string;
let noNodeBin: string;
const units: SimUnit[] = [];

/** A bin dir with every program of /usr/bin except Node's. */
function binWithoutNode(): string {
  const dir = tempDir('no-node-bin-');
  for (const name of readdirSync('/usr/bin')) {
    if (!/^(node|nodejs|npm|npx|corepack)$/.test(name)) symlinkSync(path.join('/usr/bin', name), path.join(dir, name));
  }
  return dir;
}

beforeAll(() => {
  packed = pack();
  charmDir = unzip(packed.path);
  noNodeBin = binWithoutNode();
});
afterAll(() => {
  for (const u of units) {
    u.cleanup();
    rmSync(u.charmDir, { recursive: true, force: true });
  }
  cleanup(packed?.workDir, charmDir, noNodeBin);
});

/** A unit with its own copy of the unzipped charm (the unit state file lives in the charm dir). */
function unit(): SimUnit {
  const u = createUnit({
    charmDir: copyCharmDir(charmDir),
    config: { 'openstack-clouds-yaml': cloudsYaml(), 'base-image': 'noble', interval: 6, 'cloud-name': '', 'revision-history-limit': 5 },
    relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }],
    systemPath: [noNodeBin],
  });
  units.push(u);
  return u;
}

/** node/bin/node's inode once the first hook has unpacked the runtime that node.id names. */
function unpackedNode(u: SimUnit): number {
  const bin = path.join(u.charmDir, 'node/bin');
  expect(readFileSync(path.join(bin, 'node.unpacked-id'), 'utf8')).toBe(readFileSync(path.join(bin, 'node.id'), 'utf8'));
  expect(statSync(path.join(bin, 'node')).mode & 0o777).toBe(0o755);
  return statSync(path.join(bin, 'node')).ino;
}

function settled(what: () => boolean): Promise<true> {
  return eventually('the build to report back', what);
}

describe('the packed charm', () => {
  it('has no node on the hook PATH it runs with', () => {
    expect(packed.charm).toBe('real');
    const which = spawnSync('sh', ['-c', 'command -v node || echo none'], { env: { PATH: noNodeBin }, encoding: 'utf8' });
    expect(which.stdout.trim()).toBe('none');
  });

  it('runs install, config-changed, build-immediate, the build report and get-latest from the unzipped file, on the runtime the first hook unpacked', async () => {
    const u = unit();
    expect(existsSync(path.join(u.charmDir, 'node/bin/node'))).toBe(false);
    u.setHostKnob('next-image-id', 'img-packed');
    const install = await u.dispatch('install');
    expect(install.code, install.stderr).toBe(0);
    const node = unpackedNode(u);
    // The build install started may already say which phase it is in (preparing, then building).
    expect(install.statusHistory.at(-1)).toMatchObject({ status: 'active', message: expect.stringMatching(FIRST_IMAGE_STATUS) });
    await settled(() => u.relations()['image:1']!['local-unit'].id === 'img-packed');

    const same = await u.dispatch('config-changed');
    expect(same.code).toBe(0);
    expect(same.hostCalls).toEqual([]);

    u.setHostKnob('next-image-id', 'img-now');
    const now = await u.dispatch({ action: 'build-immediate' });
    expect(now.actionResults).toMatchObject({ status: 'started' });
    await settled(() => u.relations()['image:1']!['local-unit'].id === 'img-now');

    // The cloud in this clouds.yaml is a closed port: a clear failure, not a crash.
    const latest = await u.dispatch({ action: 'get-latest' });
    expect(latest.code).toBe(0);
    expect(latest.actionFailed).toMatch(/^could not get the latest image: cloud "testcloud": .*127\.0\.0\.1:1/);
    // Every hook and action after install (the build's build_success included) ran that node.
    expect(unpackedNode(u)).toBe(node);
  });

  it('runs hooks/install invoked directly without JUJU_DISPATCH_PATH (legacy Juju)', async () => {
    const u = unit();
    const r = await u.dispatch('install', { executable: 'hooks/install', unsetEnv: ['JUJU_DISPATCH_PATH'] });
    expect(r.code, r.stderr).toBe(0);
    unpackedNode(u);
    expect(r.statusHistory.map((s) => s.message)).toEqual(['Setting up the image builder', expect.stringMatching(FIRST_IMAGE_STATUS)]);
    await settled(() => u.builds().length === 1);
  });
});
