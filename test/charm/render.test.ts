// What the charm writes into host files: the cron entry and the build script. Values are
// quoted so that no config value can become shell syntax when cron or the builder runs them.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { imageName, type BuildConfig } from '../../src/charm/build-config.js';
import { renderBuildEnv, renderBuildScript, renderCron, runArguments, scheduleMinute, type RenderContext } from '../../src/charm/render.js';
import { builderVmProxy, proxyEnv } from '../../src/charm/proxy.js';
import { BUILD_TIMEOUT_SECONDS } from '../../src/charm/paths.js';
import { Host } from '../../src/charm/host.js';
import { escapeCronPercent, shQuote } from '../../src/charm/shell.js';
import { renderScriptSecretsEnv } from '../../src/charm/script-secrets.js';

const cfg: BuildConfig = {
  arch: 'x64',
  bases: ['noble'],
  cloudName: 'prod-1',
  cloudIdentity: { authUrl: 'https://keystone.example:5000/v3', project: 'runners@Default', user: 'builder@Default' },
  numRevisions: 5,
  appName: 'image-builder',
  flavor: '',
  network: '',
  runnerVersion: '',
  scriptUrl: '',
  vmProxy: '',
  vmProxyCredentialsDropped: false,
};
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
  it('runs the root-owned builder app with quoted arguments, after --os-cloud, under the lock and the timeout, in its sandbox', () => {
    const script = renderBuildScript(cfg, unit());
    expect(script).toContain(`builder-sandbox "$ssh_dir" "$work" '/opt/github-runner-image-builder/bin/github-runner-image-builder' --os-cloud 'prod-1' "$@"`);
    expect(script).toContain('timeout -k 60 "$BUILD_TIMEOUT" unshare --mount --propagation private -- sh -c');
    expect(script).toContain('mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m builder-home /home');
    expect(script).toContain('mkdir -p /home/ubuntu/.ssh && mount --bind "$1" /home/ubuntu/.ssh && cd "$2"');
    expect(script).toContain("ssh_dir='/var/lib/github-runner-image-builder/ssh'");
    expect(script).toContain("work='/var/lib/github-runner-image-builder/work'");
    expect(script).toContain("  app 'init' '--arch' 'x64' '--prefix' 'image-builder' >> \"$log\" 2>&1 || rc=$?");
    expect(script).toContain("\nbuild_base 'noble' 'noble-image-builder-x64' 'run' 'noble-image-builder-x64' '--arch' 'x64' '--base-image' 'noble' '--keep-revisions' '5' '--prefix' 'image-builder'\nexit $failed\n");
    expect(script).toContain("'/usr/bin/juju-exec' 'image-builder/0' 'is-leader --format=json'");
    expect(script).toContain("exec 9>>'/var/lib/github-runner-image-builder/build.lock'");
    expect(script).toContain("log='/var/log/github-runner-image-builder/build.log'");
    expect(script).toContain(". '/etc/github-runner-image-builder/build.env'");
    expect(script).toContain(`"JUJU_DISPATCH_PATH=hooks/build_success OPENSTACK_IMAGE_ID=$id IMAGE_BASE=$base "''\\''/var/lib/juju/agents/unit-image-builder-0/charm/dispatch'\\'''`);
    expect(script).not.toContain('callback');
  });

  it('passes each option of the builder VM only when it is set', () => {
    expect(runArguments(cfg, 'noble')).toEqual(['run', 'noble-image-builder-x64', '--arch', 'x64', '--base-image', 'noble', '--keep-revisions', '5', '--prefix', 'image-builder']);
    const all = { ...cfg, arch: 'arm' as const, flavor: 'm1 large', network: "net'1", runnerVersion: '2.317.0', scriptUrl: 'https://example.test/s.sh?a=1&b=$(id)', vmProxy: 'squid.internal:3128' };
    expect(runArguments(all, 'resolute')).toEqual([
      'run', 'resolute-image-builder-arm', '--arch', 'arm', '--base-image', 'resolute', '--keep-revisions', '5', '--prefix', 'image-builder',
      '--flavor', 'm1 large', '--network', "net'1", '--runner-version', '2.317.0', '--script-url', 'https://example.test/s.sh?a=1&b=$(id)', '--proxy', 'squid.internal:3128',
    ]);
    // Through sh, every argument arrives as it is.
    const line = renderBuildScript({ ...all, bases: ['resolute'] }, unit()).split('\n').find((l) => l.startsWith('build_base '))!;
    const argv = execFileSync('sh', ['-c', `build_base() { printf '%s\\n' "$@"; }; ${line}`], { encoding: 'utf8' }).trimEnd().split('\n');
    expect(argv).toEqual(['resolute', 'resolute-image-builder-arm', ...runArguments(all, 'resolute')]);
  });

  it('builds every base in turn, in the configured order', () => {
    const script = renderBuildScript({ ...cfg, bases: ['jammy', 'noble'] }, unit());
    expect(script).toMatch(/\nbuild_base 'jammy' 'jammy-image-builder-x64' 'run' [^\n]*\nbuild_base 'noble' 'noble-image-builder-x64' 'run' [^\n]*\nexit \$failed\n/);
  });

  it('changes when any build or init argument changes, and only then', () => {
    const base = renderBuildScript(cfg, unit());
    expect(renderBuildScript({ ...cfg }, unit())).toBe(base);
    const changes: Partial<BuildConfig>[] = [
      { bases: ['jammy'] }, { cloudName: 'other' }, { numRevisions: 9 }, { arch: 'arm64' }, { flavor: 'f' }, { network: 'n' }, { runnerVersion: '2.1.0' }, { scriptUrl: 'https://x.test/s' }, { vmProxy: 'p:80' },
      { cloudIdentity: { ...cfg.cloudIdentity, authUrl: 'https://other:5000/v3' } }, { cloudIdentity: { ...cfg.cloudIdentity, project: 'p2' } }, { cloudIdentity: { ...cfg.cloudIdentity, user: 'u2' } },
    ];
    for (const change of changes) expect(renderBuildScript({ ...cfg, ...change }, unit()), JSON.stringify(change)).not.toBe(base);
  });

  it('the builder VM gets the model proxy as host:port, https first, without scheme or credentials', () => {
    expect(builderVmProxy({})).toEqual({ proxy: '', credentialsDropped: false });
    expect(builderVmProxy({ JUJU_CHARM_HTTP_PROXY: 'http://squid.internal:3128', JUJU_CHARM_HTTPS_PROXY: 'http://secure.internal:8443' })).toEqual({ proxy: 'secure.internal:8443', credentialsDropped: false });
    expect(builderVmProxy({ JUJU_CHARM_HTTP_PROXY: 'http://squid.internal' })).toEqual({ proxy: 'squid.internal:80', credentialsDropped: false });
    expect(builderVmProxy({ JUJU_CHARM_HTTPS_PROXY: 'https://squid.internal' })).toEqual({ proxy: 'squid.internal:443', credentialsDropped: false });
    expect(builderVmProxy({ JUJU_CHARM_HTTPS_PROXY: 'squid.internal:3128' })).toEqual({ proxy: 'squid.internal:3128', credentialsDropped: false });
    expect(builderVmProxy({ JUJU_CHARM_HTTP_PROXY: 'http://user:s3cret@[fd00::1]:3128' })).toEqual({ proxy: '[fd00::1]:3128', credentialsDropped: true });
    const script = renderBuildScript({ ...cfg, vmProxy: 'squid:3128', vmProxyCredentialsDropped: true }, unit());
    expect(script).toContain("the builder VM's proxy cannot authenticate; it gets squid:3128 without them");
  });

  it('writes the script secret as exported, single-quoted variables', () => {
    const text = renderScriptSecretsEnv({ IMAGE_BUILDER_SECRET_api_key: "it's\n$(id)" });
    const out = execFileSync('sh', ['-c', `${text}\nprintf %s "$IMAGE_BUILDER_SECRET_api_key"`], { encoding: 'utf8' });
    expect(out).toBe("it's\n$(id)");
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
