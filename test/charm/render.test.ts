// What the charm writes into host files: the cron entry and the callback script. Values are
// quoted so that no config value can become shell syntax when cron or the builder runs them.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageName, type BuildConfig } from '../../src/charm/build-config.js';
import { renderBuildEnv, renderBuildScript, renderCallbackScript, renderCron, scheduleMinute, type RenderContext } from '../../src/charm/render.js';
import { proxyEnv } from '../../src/charm/proxy.js';
import { BUILD_TIMEOUT_SECONDS, CALLBACK_SCRIPT_PATH } from '../../src/charm/paths.js';
import { Host } from '../../src/charm/host.js';
import { escapeCronPercent, shQuote } from '../../src/charm/shell.js';

const cfg: BuildConfig = { arch: 'x64', bases: ['noble'], cloudName: 'prod-1', numRevisions: 5, callbackScript: CALLBACK_SCRIPT_PATH, appName: 'image-builder' };
const unit = (env: Record<string, string> = {}, modelUuid = 'c0ffee00-0000-4000-8000-000000000001', jujuExec = '/usr/bin/juju-exec'): RenderContext => {
  const host = new Host({ PATH: '/nonexistent', ...env });
  return { unitName: 'image-builder/0', charmDir: '/var/lib/juju/agents/unit-image-builder-0/charm', modelUuid, jujuExec, path: (p) => host.path(p), proxyEnv: proxyEnv(env), node: '/charm/node/bin/node' };
};

describe('shQuote', () => {
  it.each(["plain", "it's", '$(touch /tmp/pwned)', '`id`', 'a b\nc', '; rm -rf /', '"', "''", '%s'])('round-trips %j through sh', (value) => {
    const out = execFileSync('sh', ['-c', `printf '%s' ${shQuote(value)}`], { encoding: 'utf8' });
    expect(out).toBe(value);
  });
  it('escapes % for cron', () => expect(escapeCronPercent("date +'%F'")).toBe("date +'\\%F'"));
});

describe('renderCron', () => {
  it('names the image per application, base and arch', () => {
    expect(imageName({ ...cfg, base: 'noble' })).toBe('noble-image-builder-x64');
  });

  it('is one job every interval hours running the root-only build script, and nothing else', async () => {
    const text = renderCron(cfg, 6, unit({ JUJU_CHARM_HTTP_PROXY: 'http://user:s3cret@squid:3128' }));
    expect(text.endsWith('\n')).toBe(true);
    const jobs = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(jobs).toEqual([expect.stringMatching(/^\d{1,2} \*\/6 \* \* \* root '\/var\/lib\/github-runner-image-builder\/build'$/)]);
    expect(text).not.toContain('s3cret');
  });

  it('spreads the minute by model and application, stably', async () => {
    const minute = async (uuid: string, app: string) => Number((renderCron({ ...cfg, appName: app }, 6, unit({}, uuid))).split('\n').find((l) => /^\d/.test(l))!.split(' ')[0]);
    const a = await minute('uuid-a', 'image-builder');
    expect(await minute('uuid-a', 'image-builder')).toBe(a);
    expect(a).toBe(scheduleMinute('uuid-a', 'image-builder'));
    const minutes = new Set<number>();
    for (let i = 0; i < 20; i++) minutes.add(await minute(`model-${i}`, 'image-builder'));
    expect(minutes.size).toBeGreaterThan(5); // 20 models do not all fire at one minute
    for (const m of minutes) expect(Number.isInteger(m) && m >= 0 && m < 60, `minute ${m}`).toBe(true);
  });

  it('places the script path under CHARM_HOST_ROOT', async () => {
    expect(renderCron(cfg, 6, unit({ CHARM_HOST_ROOT: '/tmp/root' }))).toContain(" root '/tmp/root/var/lib/github-runner-image-builder/build'\n");
  });
});

describe('renderBuildScript and renderBuildEnv', () => {
  it('runs the root-owned builder with quoted arguments under the lock and the timeout', () => {
    const script = renderBuildScript(cfg, unit());
    expect(script).toContain(
      "timeout -k 60 \"$BUILD_TIMEOUT\" '/opt/github-runner-image-builder/bin/github-runner-image-builder' run 'prod-1' \"$2\" --base-image \"$1\" --keep-revisions '5' --callback-script \"$callback\" >> \"$log\" 2>&1",
    );
    expect(script).toContain("callback='/var/lib/github-runner-image-builder/build-callback'");
    expect(script).toContain("\nbuild_base 'noble' 'noble-image-builder-x64'\nexit $failed\n");
    expect(script).toContain("'/usr/bin/juju-exec' 'image-builder/0' 'is-leader --format=json'");
    expect(script).toContain("exec 9>>'/var/lib/github-runner-image-builder/build.lock'");
    expect(script).toContain("log='/var/log/github-runner-image-builder/build.log'");
    expect(script).toContain(". '/etc/github-runner-image-builder/build.env'");
    expect(script).not.toContain('/home/');
  });

  it('builds every base in turn, in the configured order', () => {
    const script = renderBuildScript({ ...cfg, bases: ['jammy', 'noble'] }, unit());
    expect(script).toContain("\nbuild_base 'jammy' 'jammy-image-builder-x64'\nbuild_base 'noble' 'noble-image-builder-x64'\nexit $failed\n");
  });

  it('changes when any build argument changes, and only then', () => {
    const base = renderBuildScript(cfg, unit());
    expect(renderBuildScript({ ...cfg }, unit())).toBe(base);
    for (const changed of [renderBuildScript({ ...cfg, bases: ['jammy'] }, unit()), renderBuildScript({ ...cfg, cloudName: 'other' }, unit()), renderBuildScript({ ...cfg, numRevisions: 9 }, unit())]) {
      expect(changed).not.toBe(base);
    }
  });

  it('puts the Juju proxy settings, the clouds.yaml and a root-owned HOME in the environment file only', () => {
    const env = renderBuildEnv(unit({ JUJU_CHARM_HTTP_PROXY: 'http://squid:3128', JUJU_CHARM_NO_PROXY: '127.0.0.1,10.0.0.0/8' }));
    expect(env).toContain("export http_proxy='http://squid:3128'\nexport HTTP_PROXY='http://squid:3128'\n");
    expect(env).toContain("export no_proxy='127.0.0.1,10.0.0.0/8'");
    expect(env).toContain("export OS_CLIENT_CONFIG_FILE='/etc/github-runner-image-builder/clouds.yaml'");
    expect(env).toContain("export HOME='/var/lib/github-runner-image-builder/home'");
    expect(env).toContain(`export BUILD_TIMEOUT='${BUILD_TIMEOUT_SECONDS}'`);
    expect(env).not.toContain('https_proxy');
  });
});

describe('renderCallbackScript', () => {
  it('dispatches build_success and build_failed to this unit through juju-exec', () => {
    const script = renderCallbackScript(unit());
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`"JUJU_DISPATCH_PATH=hooks/build_success OPENSTACK_IMAGE_ID=$1 IMAGE_BASE=$base "''\\''/var/lib/juju/agents/unit-image-builder-0/charm/dispatch'\\'''`);
    expect(script).toContain('JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=$code IMAGE_BASE=$base');
    expect(script).toContain("unit='image-builder/0'");
  });
});

describe('the callback script, run', () => {
  const bin = mkdtempSync(path.join(tmpdir(), 'cb-'));
  // A juju-exec that prints the arguments it was given, one per line.
  writeFileSync(path.join(bin, 'juju-exec'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
  chmodSync(path.join(bin, 'juju-exec'), 0o755);
  const script = path.join(bin, 'callback');
  writeFileSync(script, renderCallbackScript({ ...unit({}, undefined, path.join(bin, 'juju-exec')), charmDir: '/charm' }));
  chmodSync(script, 0o755);
  const run = (...args: string[]) => execFileSync(script, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', IMAGE_BUILD_BASE: 'noble' } }).trim().split('\n');

  it('passes a valid image id to build_success as one verbatim snippet', () => {
    expect(run('0f7c-44aa')).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_success OPENSTACK_IMAGE_ID=0f7c-44aa IMAGE_BASE=noble '/charm/dispatch'"]);
  });
  it.each([[''], ['a;touch /tmp/x'], ['$(id)'], ['a b']])('turns a malformed id %j into build_failed', (id) => {
    expect(run(id)).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_FAILURE=malformed-image-id IMAGE_BASE=noble '/charm/dispatch'"]);
  });
  it('reports a failed build with its exit code, and only digits', () => {
    expect(run('--failed', '3')).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=3 IMAGE_BASE=noble '/charm/dispatch'"]);
    expect(run('--failed', '1;id')).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=unknown IMAGE_BASE=noble '/charm/dispatch'"]);
  });
});
