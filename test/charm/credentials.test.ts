// Credentials from the secret land in the chosen cloud's auth of the clouds.yaml the charm
// writes, replacing what the config had; everything else of the config stays as it was.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { credentialsFrom, hasPlainCredentials, withCredentials } from '../../src/charm/credentials.js';

const noPassword = `# our clouds
clouds:
  prod:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: builder
      project_name: runners
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
  backup:
    auth:
      auth_url: https://keystone2.example:5000/v3
      password: plain-old
`;

describe('credentials from a secret', () => {
  it('reads password and application-credential-secret, and nothing else', () => {
    expect(credentialsFrom({ password: 'p', 'application-credential-secret': 's', other: 'x' })).toEqual({ password: 'p', applicationCredentialSecret: 's' });
    expect(credentialsFrom({ passwd: 'p' })).toBeUndefined();
    expect(credentialsFrom({ password: '' })).toBeUndefined();
  });

  it('sets the first cloud’s password, keeping comments and the other clouds', () => {
    const text = withCredentials(noPassword, '', { password: 'from-secret' });
    expect(text).toContain('# our clouds');
    const y = parse(text);
    expect(y.clouds.prod.auth).toMatchObject({ username: 'builder', password: 'from-secret' });
    expect(y.clouds.backup.auth.password).toBe('plain-old');
  });

  it('sets the named cloud’s secret, replacing a password in plain config, and adds an auth section when missing', () => {
    expect(parse(withCredentials(noPassword, 'backup', { password: 'new' })).clouds.backup.auth.password).toBe('new');
    expect(parse(withCredentials('clouds:\n  c: {region_name: R}\n', 'c', { applicationCredentialSecret: 'acs' })).clouds.c.auth).toEqual({ application_credential_secret: 'acs' });
  });

  it('leaves text that is not a usable clouds.yaml to the validator', () => {
    for (const bad of ['clouds: [unclosed', 'clouds: {}', 'not-clouds: 1', 'clouds:\n  c: 3\n']) expect(withCredentials(bad, '', { password: 'p' })).toBe(bad);
  });

  it('tells whether the config itself holds a credential', () => {
    expect(hasPlainCredentials(noPassword, '')).toBe(false);
    expect(hasPlainCredentials(noPassword, 'backup')).toBe(true);
  });
});
