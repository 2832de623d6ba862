// Every config rule's blocked message, by text: it names the option, what was wrong and what
// is accepted.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/charm/config.js';

const clouds = `clouds:
  prod:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: builder
      password: canary-secret-value
      project_name: runners
      user_domain_name: Default
      project_domain_name: Default
  backup:
    auth:
      auth_url: https://keystone2.example:5000/v3
      username: builder
      password: canary-secret-value
      project_name: runners
      user_domain_name: Default
      project_domain_name: Default
`;
const good = { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': clouds, 'cloud-name': '', 'revision-history-limit': 5 };

function problems(patch: Record<string, unknown>, arch = 'x64'): string {
  try {
    parseConfig({ ...good, ...patch }, arch);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('canary-secret-value');
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

describe('parseConfig', () => {
  it('accepts a good config; the first cloud is the default', () => {
    expect(parseConfig(good, 'x64')).toEqual({
      arch: 'x64',
      bases: ['noble'],
      interval: 6,
      cloudsYaml: clouds,
      cloudName: 'prod',
      revisionHistoryLimit: 5,
      metricsPort: 9110,
      cloudWarnings: [],
      cloudIdentity: { authUrl: 'https://keystone.example:5000/v3', project: 'runners@Default', user: 'builder@Default' },
      buildFlavor: '',
      buildNetwork: '',
      runnerVersion: '',
      scriptUrl: '',
    });
    expect(parseConfig({ ...good, 'cloud-name': 'backup' }, 'arm64')).toMatchObject({ arch: 'arm64', cloudName: 'backup' });
  });

  it.each([
    ['jammy', 'jammy'],
    ['22.04', 'jammy'],
    ['NOBLE ', 'noble'],
    [' 24.04', 'noble'],
    ['focal', 'focal'],
    ['20.04', 'focal'],
    ['Resolute', 'resolute'],
    ['26.04', 'resolute'],
  ])('base-image %j means %s', (value, base) => expect(parseConfig({ ...good, 'base-image': value }, 'x64').bases).toEqual([base]));

  it.each([
    ['jammy, noble', ['jammy', 'noble']],
    [' NOBLE ,22.04', ['noble', 'jammy']],
    ['noble,24.04,noble', ['noble']],
  ])('base-image %j builds %j, in that order, duplicates folded', (value, bases) => expect(parseConfig({ ...good, 'base-image': value }, 'x64').bases).toEqual(bases));

  it('names each bad entry of a base-image list, and an empty one', () => {
    expect(problems({ 'base-image': 'jammy, bionic' })).toBe('base-image entry "bionic" is not supported; use focal, jammy, noble, resolute, 20.04, 22.04, 24.04 or 26.04');
    expect(problems({ 'base-image': 'jammy,,noble' })).toBe('base-image "jammy,,noble" has an empty entry; separate bases with single commas, e.g. "jammy, noble"');
  });

  it.each([['bionic'], [''], ['noble;id'], ['18.04']])('refuses base-image %j', (value) => {
    expect(problems({ 'base-image': value })).toBe(`base-image ${JSON.stringify(value)} is not supported; use focal, jammy, noble, resolute, 20.04, 22.04, 24.04 or 26.04`);
  });

  it.each([[0], [25], [-1]])('refuses interval %j', (value) => {
    expect(problems({ interval: value })).toBe(`interval must be a whole number of hours from 1 to 24, got ${value}`);
  });
  it.each([[1], [24]])('accepts interval %j', (value) => expect(parseConfig({ ...good, interval: value }, 'x64').interval).toBe(value));

  it.each([[1], [100], [0]])('refuses revision-history-limit %j', (value) => {
    expect(problems({ 'revision-history-limit': value })).toBe(`revision-history-limit must be a whole number from 2 to 99, got ${value}`);
  });

  it('explains an empty clouds.yaml', () => {
    expect(problems({ 'openstack-clouds-yaml': '  ' })).toBe(
      'openstack-clouds-yaml is empty; set it to the contents of your clouds.yaml (juju config <app> openstack-clouds-yaml=@clouds.yaml)',
    );
  });

  it('names cloud-name and the clouds on offer when the cloud is not there', () => {
    expect(problems({ 'cloud-name': 'staging' })).toBe('cloud-name "staging" is not in openstack-clouds-yaml; use one of: prod, backup (or leave it empty for the first)');
  });

  it('refuses a cloud name with shell metacharacters', () => {
    const msg = problems({ 'openstack-clouds-yaml': clouds.replace('prod:', '"x;touch /tmp/pwned":') });
    expect(msg).toMatch(/^openstack-clouds-yaml: /);
    expect(msg).toContain('"x;touch /tmp/pwned"');
  });

  it.each([
    ['not YAML', 'clouds: [unclosed'],
    ['a list', '- a\n- b'],
    ['no clouds', 'other: 1'],
    ['empty clouds', 'clouds: {}'],
    ['a cloud without auth_url', 'clouds:\n  c:\n    auth:\n      username: u\n      password: canary-secret-value'],
  ])('explains %s in openstack-clouds-yaml', (_what, yaml) => {
    expect(problems({ 'openstack-clouds-yaml': yaml })).toMatch(/^openstack-clouds-yaml: \S/);
  });

  it('reports every problem at once', () => {
    expect(problems({ interval: 0, 'revision-history-limit': 1 }).split('; ')).toHaveLength(2);
  });

  it.each([
    ['amd64', 'x64'],
    ['ARM64', 'arm64'],
    [' s390x ', 's390x'],
    ['ppc64le', 'ppc64le'],
    ['armhf', 'arm'],
  ])('architecture %j is the builder app\'s %s', (value, arch) => {
    expect(parseConfig({ ...good, architecture: value }, 'x64').arch).toBe(arch);
  });

  it.each([
    ['x64', 'x64'],
    ['arm64', 'arm64'],
    ['s390x', 's390x'],
    ['ppc64', 'ppc64le'],
    ['arm', 'arm'],
  ])('an empty architecture is the machine\'s (node %s: %s)', (node, arch) => {
    expect(parseConfig({ ...good, architecture: '' }, node).arch).toBe(arch);
  });

  it.each([['x86_64'], ['x64'], ['i386'], ['arm'], ['amd64;id']])('refuses architecture %j', (value) => {
    expect(problems({ architecture: value })).toBe(`architecture ${JSON.stringify(value)} is not supported; use amd64, arm64, s390x, ppc64le or armhf, or leave it empty for this machine's`);
  });

  it('refuses an empty architecture on a machine the builder does not support', () => {
    expect(problems({}, 'ia32')).toBe("architecture is empty and this machine's (ia32) is not one the builder supports; set architecture: use amd64, arm64, s390x, ppc64le or armhf");
  });

  it('builds armhf on noble and later bases only', () => {
    expect(parseConfig({ ...good, architecture: 'armhf', 'base-image': 'noble, resolute' }, 'x64').bases).toEqual(['noble', 'resolute']);
    expect(problems({ architecture: 'armhf', 'base-image': 'focal, jammy, noble' })).toBe('architecture armhf is built on noble or later only, but base-image has focal and jammy; use noble or resolute');
  });

  it.each([['build-flavor', 'an OpenStack flavor name or id'], ['build-network', 'an OpenStack network name or id']])('%s: a printable name or id, trimmed, at most 255', (option, what) => {
    const field = option === 'build-flavor' ? 'buildFlavor' : 'buildNetwork';
    for (const ok of ['m1.large', 'c0ffee00-0000-4000-8000-000000000001', 'net with spaces', 'ümlaut', 'x'.repeat(255)]) expect(parseConfig({ ...good, [option]: ok }, 'x64')[field]).toBe(ok);
    const accepted = `set ${what} (printable, no spaces at the ends, at most 255 characters), or leave it empty for the builder's choice`;
    expect(problems({ [option]: ' m1.large' })).toBe(`${option} " m1.large" has whitespace at its start or end; ${accepted}`);
    expect(problems({ [option]: 'm1\nlarge' })).toBe(`${option} contains a control character (newline, tab...); ${accepted}`);
    expect(problems({ [option]: 'x'.repeat(256) })).toBe(`${option} is 256 characters long; ${accepted}`);
  });

  it('runner-version: empty or X.Y.Z', () => {
    expect(parseConfig({ ...good, 'runner-version': '2.317.0' }, 'x64').runnerVersion).toBe('2.317.0');
    for (const bad of ['v2.317.0', '2.317', '2.317.0-rc1', ' 2.317.0', '2.317.0;id']) {
      expect(problems({ 'runner-version': bad })).toBe(`runner-version ${JSON.stringify(bad)} is not a version; use X.Y.Z as the GitHub Actions runner releases are numbered (e.g. 2.317.0), or leave it empty for the latest`);
    }
  });

  it('script-url: https, or http to this machine only, with no whitespace or control characters', () => {
    for (const ok of ['https://example.test/setup.sh', 'https://example.test:8443/a?b=c&d=$(id)', 'http://127.0.0.1:8000/s.sh', 'http://localhost/s.sh', 'http://[::1]:9/s']) {
      expect(parseConfig({ ...good, 'script-url': ok }, 'x64').scriptUrl).toBe(ok);
    }
    const accepted = 'use an https:// URL (http:// only to 127.0.0.1 or localhost) with no spaces, or leave it empty';
    expect(problems({ 'script-url': 'http://example.test/s.sh' })).toBe(`script-url "http://example.test/s.sh" uses plain http to another machine, where anyone on the way could change the script root runs on every image; ${accepted}`);
    expect(problems({ 'script-url': 'example.test/s.sh' })).toBe(`script-url "example.test/s.sh" is not a URL; ${accepted}`);
    expect(problems({ 'script-url': 'ftp://example.test/s.sh' })).toBe(`script-url "ftp://example.test/s.sh" is not http(s); ${accepted}`);
    expect(problems({ 'script-url': 'https://example.test/a b' })).toBe(`script-url contains whitespace or a control character; ${accepted}`);
    expect(problems({ 'script-url': 'https://example.test/\u0007' })).toBe(`script-url contains whitespace or a control character; ${accepted}`);
  });
});
