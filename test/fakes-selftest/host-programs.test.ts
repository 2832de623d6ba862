// The host-program stand-ins, run through a unit's wrappers with the reduced environment the
// charm gives host programs (PATH, LANG, proxies, HOME): records, behaviour, failure injection,
// the builder application, and juju-exec.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { runProcess } from '../support/juju.js';
import { waitsForLock } from '../support/locks.js';
import { cleanupUnits, testUnit, type TestUnit } from './helpers.js';

afterAll(cleanupUnits);

/** Runs a program as the charm does: found on the unit's PATH, with only the env given. */
const run = (u: TestUnit, argv: string[], env: Record<string, string> = {}, timeoutMs = 120_000) =>
  runProcess(argv[0]!, argv.slice(1), { env: { PATH: u.env.PATH!, LANG: 'C.UTF-8', ...env }, cwd: u.hostRoot, timeoutMs });

describe('apt-get and dpkg-query', () => {
  it('reports packages like dpkg-query, and apt-get install (with -y) installs them', async () => {
    const u = testUnit({ installedPackages: ['gcc'] });
    const query = ['dpkg-query', '-W', '-f=${Package} ${Status}\\n', 'pipx', 'gcc'];
    expect(await run(u, query)).toMatchObject({ code: 1, stdout: 'gcc install ok installed\n', stderr: 'dpkg-query: no packages found matching pipx\n' });
    expect((await run(u, ['apt-get', 'install', 'pipx'])).code).toBe(1); // no -y: the prompt aborts
    expect((await run(u, ['apt-get', 'update'])).code).toBe(0);
    expect((await run(u, ['apt-get', 'install', '-y', '--no-install-recommends', 'pipx', 'gcc'], { DEBIAN_FRONTEND: 'noninteractive' })).code).toBe(0);
    expect(await run(u, query)).toMatchObject({ code: 0, stdout: 'pipx install ok installed\ngcc install ok installed\n', stderr: '' });
    expect(u.installedPackages()).toEqual(['gcc', 'pipx']);
    expect(u.hostCalls().map((c) => [c.prog, c.argv[0]])).toEqual([
      ['dpkg-query', '-W'],
      ['apt-get', 'install'],
      ['apt-get', 'update'],
      ['apt-get', 'install'],
      ['dpkg-query', '-W'],
    ]);
    expect(u.hostCalls()[3]).toMatchObject({ cwd: u.hostRoot, env: { DEBIAN_FRONTEND: 'noninteractive' } });
  });

  it('injects failures per program or per program and subcommand', async () => {
    const u = testUnit();
    u.failHost('apt-get.install', 100, 'E: Unable to locate package pipx\n');
    expect((await run(u, ['apt-get', 'update'])).code).toBe(0);
    expect(await run(u, ['apt-get', 'install', '-y', 'pipx'])).toMatchObject({ code: 100, stdout: '', stderr: 'E: Unable to locate package pipx\n' });
    u.failHost('systemctl', 1, 'Failed to connect to bus\n');
    expect(await run(u, ['systemctl', 'reload-or-restart', 'cron'])).toMatchObject({ code: 1, stderr: 'Failed to connect to bus\n' });
    u.clearFailures();
    expect((await run(u, ['apt-get', 'install', '-y', 'pipx'])).code).toBe(0);
    u.failHost('systemctl', 'hang');
    const hung = await run(u, ['systemctl', 'restart', 'cron'], {}, 500);
    expect(hung).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(u.hostCalls().filter((c) => c.prog === 'apt-get')).toHaveLength(3); // failed calls are recorded too
  });
});

describe('users, systemctl and sudo', () => {
  it('knows root and ubuntu, with homes under the host root', async () => {
    const u = testUnit();
    expect((await run(u, ['id', '-u', 'ubuntu'])).stdout).toBe('1000\n');
    expect((await run(u, ['id', '-g', 'ubuntu'])).stdout).toBe('1000\n');
    expect(await run(u, ['id', '-u', 'nobody-here'])).toMatchObject({ code: 1, stderr: "id: 'nobody-here': no such user\n" });
    expect((await run(u, ['getent', 'passwd', 'ubuntu'])).stdout).toBe(`ubuntu:x:1000:1000:Ubuntu:${u.hostRoot}/home/ubuntu:/bin/bash\n`);
    expect(await run(u, ['getent', 'passwd', 'nobody-here'])).toMatchObject({ code: 2, stdout: '' });
    expect(await run(u, ['systemctl', 'is-active', 'cron'])).toMatchObject({ code: 0, stdout: 'active\n' });
    expect(await run(u, ['systemctl', 'is-active', 'nginx'])).toMatchObject({ code: 3, stdout: 'inactive\n' });
    const sudo = await run(u, ['sudo', '-u', 'ubuntu', '-H', '--', 'sh', '-c', 'printf %s "$HOME"']);
    expect(sudo.stdout).toBe(`${u.hostRoot}/home/ubuntu`);
    expect(u.hostCalls().at(-1)).toMatchObject({ prog: 'sudo', user: 'ubuntu', argv: ['-u', 'ubuntu', '-H', '--', 'sh', '-c', 'printf %s "$HOME"'] });
  });
});

describe('pipx and the builder application', () => {
  const home = (u: TestUnit) => u.hostPath('/home/ubuntu');
  const builder = (u: TestUnit) => u.hostPath('/home/ubuntu/.local/bin/github-runner-image-builder');

  it('installs the builder for the user runuser switches to; the installed app is the stand-in (builder-app.test.ts)', async () => {
    const u = testUnit();
    const spec = 'git+https://github.com/canonical/github-runner-image-builder-operator@fb250b2fa6f91e4c5b3e0417022afe464dc4559c#subdirectory=app';
    const inst = await run(u, ['runuser', '-u', 'ubuntu', '--', 'pipx', 'install', '--force', spec]);
    expect(inst.code).toBe(0);
    expect(existsSync(builder(u))).toBe(true);
    expect(readFileSync(builder(u), 'utf8')).toContain(`Installed by the pipx stand-in from: ${spec}`);
    expect(u.hostCalls().map((c) => [c.prog, c.user, c.env.HOME])).toEqual([
      ['runuser', 'ubuntu', undefined],
      ['pipx', undefined, home(u)],
    ]);
    expect((await run(u, ['pipx', 'install', spec], { HOME: home(u) })).stdout).toMatch(/already seems to be installed/);

    u.setHostKnob('latest-image-id', 'img-42');
    expect(await run(u, [builder(u), '--os-cloud', 'c', 'latest-build-id', 'noble-app-x64'])).toMatchObject({ code: 0, stdout: 'img-42' });
    u.failHost('github-runner-image-builder.latest-build-id', 1, 'no cloud\n');
    expect(await run(u, [builder(u), '--os-cloud', 'c', 'latest-build-id', 'noble-app-x64'])).toMatchObject({ code: 1, stderr: 'no cloud\n' });
    expect(u.hostCalls().filter((c) => c.prog === 'github-runner-image-builder').map((c) => c.argv)).toEqual([
      ['--os-cloud', 'c', 'latest-build-id', 'noble-app-x64'],
      ['--os-cloud', 'c', 'latest-build-id', 'noble-app-x64'],
    ]);
    expect((await run(u, ['pipx', 'uninstall', 'github-runner-image-builder'], { HOME: home(u) })).code).toBe(0);
    expect(existsSync(builder(u))).toBe(false);
  });
});

describe('juju-exec', () => {
  it('runs commands in a fresh run-commands context with the unit env only, and commits on exit 0', async () => {
    const u = testUnit();
    const r = await u.jujuExec(['github-runner-image-builder/0', 'relation-set -r image:1 via=exec; echo "$JUJU_CONTEXT_ID|${JUJU_DISPATCH_PATH-unset}|${CALLER_SECRET-unset}|$JUJU_UNIT_NAME|$PWD"; exit 3'], {
      env: { CALLER_SECRET: 'leak' },
    });
    expect(r.code).toBe(3);
    const [ctx, dispatchPath, secret, unitName, cwd] = r.stdout.trim().split('|');
    expect(ctx).toMatch(/^github-runner-image-builder\/0-run-commands-\d+$/);
    expect([dispatchPath, secret, unitName, cwd]).toEqual(['unset', 'unset', 'github-runner-image-builder/0', u.charmDir]);
    expect(u.relations()['image:1']!['local-unit']).toEqual({}); // exit 3: discarded

    const ok = await u.jujuExec(['-u', 'unit-github-runner-image-builder-0', 'relation-set', '-r', 'image:1', 'msg=two words']);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(u.relations()['image:1']!['local-unit']).toEqual({ msg: 'two words' });
    expect(u.hostCalls().map((c) => c.prog)).toEqual(['juju-exec', 'juju-exec']);
  });

  it('refuses to run inside a hook, and for another unit', async () => {
    const u = testUnit();
    const inside = await u.sh('juju-exec github-runner-image-builder/0 true; echo "rc=$?"');
    expect(inside.stdout).toBe('rc=2\n');
    expect(inside.stderr).toMatch(/^ERROR juju-exec cannot be called from within a hook, have context "github-runner-image-builder\/0-run-commands-\d+"\n$/);
    expect(await u.jujuExec(['other/0', 'true'])).toMatchObject({ code: 1, stderr: 'ERROR unit "other/0" not found on this machine\n' });
  });

  it('waits for the machine lock held by a running hook', async () => {
    const u = testUnit();
    const [started, release, order] = ['started', 'release', 'order'].map((f) => path.join(u.dir, f)) as [string, string, string];
    // The hook holds the lock until the test releases it.
    const hook = u.sh(`touch '${started}'; while [ ! -e '${release}' ]; do sleep 0.05; done; echo hook-done >> '${order}'`);
    await eventually('the hook to start', () => existsSync(started));
    const exec = u.jujuExec(['github-runner-image-builder/0', `echo exec >> '${order}'`]);
    await eventually('juju-exec to wait for the machine lock', () => waitsForLock(path.join(u.jujuDir, 'machine-lock')));
    expect(existsSync(order), 'nothing ran while the hook held the lock').toBe(false);
    writeFileSync(release, '');
    expect((await exec).code).toBe(0);
    expect((await hook).code).toBe(0);
    expect(readFileSync(path.join(u.dir, 'order'), 'utf8')).toBe('hook-done\nexec\n');
  });
});
