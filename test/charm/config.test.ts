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
    expect(parseConfig(good, 'x64')).toEqual({ arch: 'x64', bases: ['noble'], interval: 6, cloudsYaml: clouds, cloudName: 'prod', revisionHistoryLimit: 5, metricsPort: 9110, cloudWarnings: [] });
    expect(parseConfig({ ...good, 'cloud-name': 'backup' }, 'arm64')).toMatchObject({ arch: 'arm64', cloudName: 'backup' });
  });

  it.each([
    ['jammy', 'jammy'],
    ['22.04', 'jammy'],
    ['NOBLE ', 'noble'],
    [' 24.04', 'noble'],
  ])('base-image %j means %s', (value, base) => expect(parseConfig({ ...good, 'base-image': value }, 'x64').bases).toEqual([base]));

  it.each([
    ['jammy, noble', ['jammy', 'noble']],
    [' NOBLE ,22.04', ['noble', 'jammy']],
    ['noble,24.04,noble', ['noble']],
  ])('base-image %j builds %j, in that order, duplicates folded', (value, bases) => expect(parseConfig({ ...good, 'base-image': value }, 'x64').bases).toEqual(bases));

  it('names each bad entry of a base-image list, and an empty one', () => {
    expect(problems({ 'base-image': 'jammy, focal' })).toBe('base-image entry "focal" is not supported; use jammy, noble, 22.04 or 24.04');
    expect(problems({ 'base-image': 'jammy,,noble' })).toBe('base-image "jammy,,noble" has an empty entry; separate bases with single commas, e.g. "jammy, noble"');
  });

  it.each([['focal'], [''], ['noble;id']])('refuses base-image %j', (value) => {
    expect(problems({ 'base-image': value })).toBe(`base-image ${JSON.stringify(value)} is not supported; use jammy, noble, 22.04 or 24.04`);
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

  it('refuses an unsupported machine architecture', () => {
    expect(problems({}, 's390x')).toBe('unsupported machine architecture s390x; deploy on amd64 or arm64');
  });
});
