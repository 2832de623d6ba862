// Units for the hardening suite: the charm runs as root (as Juju runs it), the simulated host's
// `ubuntu` user is a second, unprivileged uid that owns /home/ubuntu, and `asUser` runs code as
// that uid to attack what root does. Needs root (to switch uid); the suite says so otherwise.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImageBuilderCharmDir, copyCharmDir } from '../support/charm-dir.js';
import { cloudsYaml } from '../support/clouds.js';
import { createUnit, type CreateUnitOptions, type SimUnit } from '../support/juju.js';
export { eventually } from '../support/eventually.js';
import { eventually } from '../support/eventually.js';

/** The second uid: nobody on Debian/Ubuntu, no login, no home of its own. */
export const USER_UID = 65534;
export const canSwitchUid = process.getuid?.() === 0;

const TMP_ROOT = mkdtempSync(path.join(tmpdir(), 'hardening-'));
chmodSync(TMP_ROOT, 0o755); // the second uid must reach the simulated host to attack it
process.env.TMPDIR = TMP_ROOT; // units and charm dirs go there (os.tmpdir() reads it on every call)

let built: Promise<string> | undefined;
const cleanups: (() => void)[] = [];

export function cleanupAll(): void {
  for (const c of cleanups.splice(0)) c();
  rmSync(TMP_ROOT, { recursive: true, force: true });
}

export const goodConfig = (clouds = cloudsYaml()) => ({ 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': clouds, 'cloud-name': '', 'revision-history-limit': 5 });

export async function newUnit(opts: Partial<CreateUnitOptions> = {}): Promise<SimUnit> {
  built ??= buildImageBuilderCharmDir();
  const charmDir = copyCharmDir(await built);
  const u = createUnit({ charmDir, config: goodConfig(), relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }], ...opts });
  for (const d of [u.dir, u.hostDir, u.hostRoot, u.hostPath('/home'), u.hostPath('/var'), u.hostPath('/var/lib'), u.hostPath('/etc'), u.hostPath('/opt')]) chmodSync(d, 0o755);
  // /home/ubuntu belongs to the second uid, as a real ubuntu user's home does.
  chownSync(u.hostPath('/home/ubuntu'), USER_UID, USER_UID);
  u.setHostKnob('passwd', `root:x:0:0:root:${u.hostRoot}/root:/bin/bash\nubuntu:x:${USER_UID}:${USER_UID}:Ubuntu:${u.hostPath('/home/ubuntu')}:/bin/bash\n`);
  cleanups.push(() => {
    u.cleanup();
    rmSync(charmDir, { recursive: true, force: true });
  });
  return u;
}


export const imageId = (u: SimUnit) => u.relations()['image:1']?.['local-unit'].id;

/** Waits until no build holds the lock (its last log lines come after the callback). */
import { buildsDone } from '../support/charm-units.js';

export { buildsDone };

/** Install, then the first build served and finished. */
export async function settledUnit(opts: Partial<CreateUnitOptions> = {}): Promise<SimUnit> {
  const u = await newUnit(opts);
  u.setHostKnob('next-image-id', 'img-first');
  const r = await u.dispatch('install');
  if (r.code !== 0) throw new Error(`install failed (${r.code}): ${r.stderr}`);
  await eventually('the first image to be served', () => imageId(u) === 'img-first');
  await buildsDone(u);
  u.setHostKnob('next-image-id', undefined);
  return u;
}

/**
 * Runs a JavaScript snippet as the second uid and returns what it printed as JSON. The snippet
 * gets `fs` and `path` and must `return` a JSON-able value.
 */
export function asUser<T>(snippet: string): T {
  const program = `const fs = require('node:fs'); const path = require('node:path'); const out = (() => { ${snippet} })(); process.stdout.write(JSON.stringify(out));`;
  const res = spawnSync(process.execPath, ['-e', program], { uid: USER_UID, gid: USER_UID, encoding: 'utf8', cwd: '/', env: { PATH: '/usr/bin:/bin' } });
  if (res.status !== 0) throw new Error(`as uid ${USER_UID}: exit ${res.status}: ${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}

/** The snippet that tries to change each path as the user; returns the paths it could change. */
export function attackSnippet(paths: readonly string[], payload: string): string {
  return `
    const won = [];
    for (const p of ${JSON.stringify(paths)}) {
      try { fs.appendFileSync(p, ${JSON.stringify(payload)}); won.push(p + ': appended'); continue; } catch {}
      try { fs.writeFileSync(p + '.x', ${JSON.stringify(payload)}, { mode: 0o755 }); fs.renameSync(p + '.x', p); won.push(p + ': replaced'); continue; } catch {}
      try { fs.rmSync(p, { recursive: true, force: true }); fs.mkdirSync(path.dirname(p), { recursive: true }); fs.writeFileSync(p, ${JSON.stringify(payload)}, { mode: 0o755 }); won.push(p + ': recreated'); } catch {}
    }
    return won;`;
}
