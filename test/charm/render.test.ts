// What the charm writes into host files: the cron entry and the callback script. Values are
// quoted so that no config value can become shell syntax when cron or the builder runs them.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageName, renderCallbackScript, renderCron, type BuildConfig, type UnitContext } from '../../src/charm/builder.js';
import { Host } from '../../src/charm/host.js';
import { escapeCronPercent, shQuote } from '../../src/charm/shell.js';

const cfg: BuildConfig = { arch: 'x64', base: 'noble', cloudName: 'prod-1', numRevisions: 5, callbackScript: '/var/lib/github-runner-image-builder/build-callback', appName: 'image-builder' };
const unit = (env: Record<string, string> = {}): UnitContext => ({
  host: new Host({ PATH: '/nonexistent', ...env }),
  unitName: 'image-builder/0',
  charmDir: '/var/lib/juju/agents/unit-image-builder-0/charm',
  warn: () => {},
});

describe('shQuote', () => {
  it.each(["plain", "it's", '$(touch /tmp/pwned)', '`id`', 'a b\nc', '; rm -rf /', '"', "''", '%s'])('round-trips %j through sh', (value) => {
    const out = execFileSync('sh', ['-c', `printf '%s' ${shQuote(value)}`], { encoding: 'utf8' });
    expect(out).toBe(value);
  });
  it('escapes % for cron', () => expect(escapeCronPercent("date +'%F'")).toBe("date +'\\%F'"));
});

describe('renderCron', () => {
  it('names the image per application, base and arch', () => {
    expect(imageName(cfg)).toBe('noble-image-builder-x64');
  });

  it('is one job every interval hours running the builder with quoted arguments, ending in a newline', () => {
    const text = renderCron(cfg, 6, unit());
    const lines = text.split('\n');
    expect(text.endsWith('\n')).toBe(true);
    expect(lines.filter((l) => l && !l.startsWith('#'))).toHaveLength(1);
    const job = lines.find((l) => l && !l.startsWith('#'))!;
    expect(job).toMatch(/^0 \*\/6 \* \* \* root cd '\/home\/ubuntu' && /);
    expect(job).toContain(
      "'/home/ubuntu/.local/bin/github-runner-image-builder' run 'prod-1' 'noble-image-builder-x64' --base-image 'noble' --keep-revisions '5' --callback-script '/var/lib/github-runner-image-builder/build-callback' >> '/home/ubuntu/github-runner-image-builder.log' 2>&1",
    );
    expect(job).toContain("-E 75 '/var/lib/github-runner-image-builder/build.lock'");
    expect(job).toContain("OS_CLIENT_CONFIG_FILE='/home/ubuntu/.config/openstack/clouds.yaml'");
  });

  it('passes Juju proxy settings to the build', () => {
    const job = renderCron(cfg, 3, unit({ JUJU_CHARM_HTTP_PROXY: 'http://squid:3128', JUJU_CHARM_NO_PROXY: '127.0.0.1,10.0.0.0/8' }));
    expect(job).toContain("http_proxy='http://squid:3128' HTTP_PROXY='http://squid:3128'");
    expect(job).toContain("no_proxy='127.0.0.1,10.0.0.0/8'");
    expect(job).not.toContain('https_proxy');
  });

  it('places every path under CHARM_HOST_ROOT', () => {
    const job = renderCron(cfg, 6, unit({ CHARM_HOST_ROOT: '/tmp/root' }));
    expect(job).toContain("'/tmp/root/home/ubuntu/.local/bin/github-runner-image-builder' run");
    expect(job).toContain("--callback-script '/tmp/root/var/lib/github-runner-image-builder/build-callback'");
  });

  it('changes when any build argument changes, and only then', () => {
    const base = renderCron(cfg, 6, unit());
    expect(renderCron({ ...cfg }, 6, unit())).toBe(base);
    for (const changed of [renderCron(cfg, 12, unit()), renderCron({ ...cfg, base: 'jammy' }, 6, unit()), renderCron({ ...cfg, cloudName: 'other' }, 6, unit()), renderCron({ ...cfg, numRevisions: 9 }, 6, unit())]) {
      expect(changed).not.toBe(base);
    }
  });
});

describe('renderCallbackScript', () => {
  it('dispatches build_success and build_failed to this unit through juju-exec', () => {
    const script = renderCallbackScript(unit());
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`"JUJU_DISPATCH_PATH=hooks/build_success OPENSTACK_IMAGE_ID=$1 "''\\''/var/lib/juju/agents/unit-image-builder-0/charm/dispatch'\\'''`);
    expect(script).toContain('JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=$code');
    expect(script).toContain("unit='image-builder/0'");
  });
});

describe('the callback script, run', () => {
  const bin = mkdtempSync(path.join(tmpdir(), 'cb-'));
  // A juju-exec that prints the arguments it was given, one per line.
  writeFileSync(path.join(bin, 'juju-exec'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
  chmodSync(path.join(bin, 'juju-exec'), 0o755);
  const script = path.join(bin, 'callback');
  writeFileSync(script, renderCallbackScript({ ...unit({ PATH: bin }), charmDir: '/charm' }));
  chmodSync(script, 0o755);
  const run = (...args: string[]) => execFileSync(script, args, { encoding: 'utf8' }).trim().split('\n');

  it('passes a valid image id to build_success as one verbatim snippet', () => {
    expect(run('0f7c-44aa')).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_success OPENSTACK_IMAGE_ID=0f7c-44aa '/charm/dispatch'"]);
  });
  it.each([[''], ['a;touch /tmp/x'], ['$(id)'], ['a b']])('turns a malformed id %j into build_failed', (id) => {
    expect(run(id)).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_FAILURE=malformed-image-id '/charm/dispatch'"]);
  });
  it('reports a failed build with its exit code, and only digits', () => {
    expect(run('--failed', '3')).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=3 '/charm/dispatch'"]);
    expect(run('--failed', '1;id')).toEqual(['image-builder/0', "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=unknown '/charm/dispatch'"]);
  });
});
