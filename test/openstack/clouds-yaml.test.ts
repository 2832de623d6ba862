// clouds.yaml parsing and validation: no services needed.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLOUD_NAME_PATTERN, CloudsYamlError, isValidCloudName, parseCloudsYaml, resolveCloud } from '../../src/openstack/index.js';

const SECRET = 'canary-Pa55w0rd-do-not-leak';

function problems(text: string): string[] {
  try {
    parseCloudsYaml(text);
  } catch (err) {
    expect(err).toBeInstanceOf(CloudsYamlError);
    const e = err as CloudsYamlError;
    expect(e.message).toBe(e.problems.join('\n'));
    for (const p of e.problems) expect(p).not.toContain('\n');
    return [...e.problems];
  }
  throw new Error('expected a CloudsYamlError');
}

const GOOD = `
clouds:
  prod:
    auth:
      auth_url: https://keystone.example:5000
      username: builder
      password: ${SECRET}
      project_name: runners
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
  staging:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.staging:5000/v3/
      application_credential_id: abc123
      application_credential_secret: s3cret-value
    interface: internalURL
    identity_api_version: '3'
    cacert: /etc/ssl/staging-ca.pem
  lab:
    auth:
      auth_url: http://10.0.0.1/identity
      user_id: 0123abcd
      password: pw
      project_id: 9876fedc
    interface: admin
    verify: false
    identity_api_version: 3
`;

describe('parseCloudsYaml: valid documents', () => {
  it('normalises password, application-credential and id-based clouds', () => {
    const parsed = parseCloudsYaml(GOOD);
    expect(parsed.names).toEqual(['prod', 'staging', 'lab']);
    expect({ ...parsed.clouds.prod }).toEqual({
      name: 'prod',
      authType: 'password',
      authUrl: 'https://keystone.example:5000/v3',
      username: 'builder',
      userId: undefined,
      password: SECRET,
      userDomainName: 'Default',
      userDomainId: undefined,
      projectName: 'runners',
      projectId: undefined,
      projectDomainName: 'Default',
      projectDomainId: undefined,
      applicationCredentialId: undefined,
      applicationCredentialName: undefined,
      applicationCredentialSecret: undefined,
      regionName: 'RegionOne',
      interface: 'public',
      cacert: undefined,
      verify: true,
    });
    const staging = parsed.clouds.staging!;
    expect(staging.authType).toBe('application_credential');
    expect(staging.authUrl).toBe('https://keystone.staging:5000/v3');
    expect(staging.applicationCredentialId).toBe('abc123');
    expect(staging.applicationCredentialSecret).toBe('s3cret-value');
    expect(staging.interface).toBe('internal');
    expect(staging.cacert).toBe('/etc/ssl/staging-ca.pem');
    const lab = parsed.clouds.lab!;
    expect(lab.authUrl).toBe('http://10.0.0.1/identity/v3');
    expect(lab.userId).toBe('0123abcd');
    expect(lab.projectId).toBe('9876fedc');
    expect(lab.interface).toBe('admin');
    expect(lab.verify).toBe(false);
  });

  it('resolveCloud: empty name is the first cloud in document order; unknown names list the clouds', () => {
    const parsed = parseCloudsYaml(GOOD);
    expect(resolveCloud(parsed).name).toBe('prod');
    expect(resolveCloud(parsed, '').name).toBe('prod');
    expect(resolveCloud(parsed, 'lab').name).toBe('lab');
    expect(() => resolveCloud(parsed, 'nope')).toThrow('cloud "nope" is not in clouds.yaml; it defines: prod, staging, lab');
    expect(() => resolveCloud(parsed, 'x; rm -rf /')).toThrow(/cloud name "x; rm -rf \/" is not valid.*defines: prod, staging, lab/);
    expect(() => resolveCloud(parsed, 'toString')).toThrow(/not in clouds.yaml/);
  });

  it('keeps document order for integer-like cloud names', () => {
    const doc = `clouds:\n  zeta: {auth: {auth_url: http://k, user_id: u, password: p, project_id: x}}\n  "42": {auth: {auth_url: http://k, user_id: u, password: p, project_id: x}}\n`;
    const parsed = parseCloudsYaml(doc);
    expect(parsed.names).toEqual(['zeta', '42']);
    expect(resolveCloud(parsed).name).toBe('zeta');
  });

  it('honours YAML anchors and merge keys, as PyYAML does', () => {
    const doc = `
defaults: &auth
  auth_url: http://k:5000
  user_domain_name: Default
  project_domain_name: Default
clouds:
  a:
    auth:
      <<: *auth
      username: u
      password: p
      project_name: x
`;
    expect(resolveCloud(parseCloudsYaml(doc)).userDomainName).toBe('Default');
  });

  it('falls back to domain_id / domain_name for user and project domains', () => {
    const doc = `clouds:\n  a:\n    auth: {auth_url: http://k, username: u, password: p, project_name: x, domain_id: dom}\n`;
    const c = resolveCloud(parseCloudsYaml(doc));
    expect([c.userDomainId, c.projectDomainId]).toEqual(['dom', 'dom']);
  });

  it('never shows the password or secret when a cloud is logged or serialised', () => {
    const parsed = parseCloudsYaml(GOOD);
    for (const cloud of Object.values(parsed.clouds)) {
      expect(JSON.stringify(cloud)).not.toContain(SECRET);
      expect(JSON.stringify(cloud)).not.toContain('s3cret-value');
      expect(inspect(cloud)).not.toContain(SECRET);
      expect(inspect(cloud)).not.toContain('s3cret-value');
    }
    expect(JSON.stringify(parsed.clouds.prod)).toContain('"password":"***"');
    expect(Object.isFrozen(parsed.clouds.prod)).toBe(true);
  });
});

describe('parseCloudsYaml: one line per problem, naming cloud and field', () => {
  it('required fields', () => {
    expect(problems('clouds:\n  prod:\n    auth: {username: u, password: p, project_id: x, user_domain_name: D}\n')).toEqual([
      'cloud "prod": auth.auth_url is required',
    ]);
    expect(problems('clouds:\n  prod:\n    region_name: R\n')).toEqual(['cloud "prod": auth is required']);
    expect(problems('clouds:\n  prod:\n    auth: {auth_url: http://k}\n')).toEqual([
      'cloud "prod": auth.username or auth.user_id is required',
      'cloud "prod": auth.project_name or auth.project_id is required (the client needs a project-scoped token)',
      'cloud "prod": auth.password is required',
    ]);
    expect(problems('clouds:\n  prod:\n    auth: {auth_url: http://k, username: u, password: p, project_name: x}\n')).toEqual([
      'cloud "prod": auth.user_domain_name or auth.user_domain_id is required with auth.username',
      'cloud "prod": auth.project_domain_name or auth.project_domain_id is required with auth.project_name',
    ]);
  });

  it('application credentials', () => {
    expect(problems('clouds:\n  ci:\n    auth_type: v3applicationcredential\n    auth: {auth_url: http://k, application_credential_id: i}\n')).toEqual([
      'cloud "ci": auth.application_credential_secret is required',
    ]);
    expect(problems('clouds:\n  ci:\n    auth_type: v3applicationcredential\n    auth: {auth_url: http://k, application_credential_secret: s}\n')).toEqual([
      'cloud "ci": auth.application_credential_id or auth.application_credential_name is required',
    ]);
    expect(problems('clouds:\n  ci:\n    auth_type: v3applicationcredential\n    auth: {auth_url: http://k, application_credential_name: n, application_credential_secret: s}\n')).toEqual([
      'cloud "ci": auth.user_id or auth.username is required',
    ]);
    // Forgot auth_type: say what to do rather than only "password is required".
    expect(problems('clouds:\n  ci:\n    auth: {auth_url: http://k, application_credential_id: i, application_credential_secret: s}\n')).toContain(
      'cloud "ci": auth.password is required (or set auth_type: v3applicationcredential to use the application credential)',
    );
  });

  it('wrong types and values, without quoting the values', () => {
    const lines = problems(`
clouds:
  prod:
    auth_type: token
    auth:
      auth_url: ftp://keystone
      username: u
      password: 012345
      project_id: p
      user_domain_id: d
    region_name: ''
    interface: private
    identity_api_version: 2
    verify: "no"
    cert: /etc/client.pem
`);
    expect(lines).toEqual(
      expect.arrayContaining([
        'cloud "prod": auth_type must be one of: password, v3password, v3applicationcredential',
        'cloud "prod": auth.auth_url must be an http:// or https:// URL',
        'cloud "prod": auth.password must be a string, not a number (quote it: YAML reads unquoted values like 0123, 1e5 or yes as numbers or booleans)',
        'cloud "prod": region_name must not be empty',
        'cloud "prod": interface must be one of: public, internal, admin, publicURL, internalURL, adminURL',
        'cloud "prod": identity_api_version must be 3 (only the Keystone v3 API is supported)',
        'cloud "prod": verify must be a boolean, not a string',
        'cloud "prod": cert (client certificates) is not supported; remove it',
      ]),
    );
    expect(lines.join('\n')).not.toMatch(/ftp:|012345|private|token\b/);
  });

  it('Keystone v2.0 auth_url', () => {
    expect(problems('clouds:\n  old:\n    auth: {auth_url: "http://k:5000/v2.0/", user_id: u, password: p, project_id: x}\n')).toEqual([
      'cloud "old": auth.auth_url points at the Keystone v2.0 API; use the v3 URL (ending in /v3)',
    ]);
  });

  it('every cloud is checked, and bad cloud names are refused', () => {
    const lines = problems(`
clouds:
  "bad name;rm -rf /":
    auth: {auth_url: http://k, user_id: u, password: p, project_id: x}
  good:
    auth: {auth_url: http://k, user_id: u, password: p, project_id: x}
  other: [1, 2]
  fourth: "text"
`);
    expect(lines).toEqual([
      'cloud "bad name;rm -rf /": a cloud name must start with a letter or digit and contain only letters, digits, ".", "_" and "-"',
      'cloud "other": must be a mapping of settings, not a list',
      'cloud "fourth": must be a mapping of settings, not a string',
    ]);
  });

  it('the shape of the document', () => {
    expect(problems('')).toEqual(['clouds.yaml is empty; it needs a top-level "clouds:" mapping']);
    expect(problems('# only a comment\n')).toEqual(['clouds.yaml is empty; it needs a top-level "clouds:" mapping']);
    expect(problems('just a string')).toEqual(['clouds.yaml must be a mapping with a top-level "clouds:" key, not a string']);
    expect(problems('42')).toEqual(['clouds.yaml must be a mapping with a top-level "clouds:" key, not a number']);
    expect(problems('- a\n- b\n')).toEqual(['clouds.yaml must be a mapping with a top-level "clouds:" key, not a list']);
    expect(problems('cloud:\n  x: 1\n')).toEqual(['clouds.yaml: the top-level "clouds:" key is missing']);
    expect(problems('clouds:\n')).toEqual(['clouds.yaml: "clouds" must be a mapping of cloud names to their settings, not null']);
    expect(problems('clouds: ~\n')).toEqual(['clouds.yaml: "clouds" must be a mapping of cloud names to their settings, not null']);
    expect(problems('clouds: prod\n')).toEqual(['clouds.yaml: "clouds" must be a mapping of cloud names to their settings, not a string']);
    expect(problems('clouds: [prod]\n')).toEqual(['clouds.yaml: "clouds" must be a mapping of cloud names to their settings, not a list']);
    expect(problems('clouds: {}\n')).toEqual(['clouds.yaml: "clouds" is empty; define at least one cloud']);
  });

  it('YAML syntax errors give a position, not the source text', () => {
    const lines = problems(`clouds:\n  prod:\n    auth:\n      password: "${SECRET}\n`);
    expect(lines[0]).toMatch(/^clouds\.yaml is not valid YAML at line \d+, column \d+: /);
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(problems('clouds:\n  a: 1\n  a: 2\n')[0]).toMatch(/line 3, column 3: Map keys must be unique/);
    expect(problems('a: 1\n---\nb: 2\n')).toEqual(['clouds.yaml holds more than one YAML document (a second starts at line 2); give one document']);
    expect(problems(`clouds:\n  x:\n    auth:\n      password: *${SECRET.replace(/-/g, '')}\n`).join('\n')).not.toContain(SECRET.replace(/-/g, ''));
  });
});

describe('parseCloudsYaml: hostile input', () => {
  it('refuses an alias bomb without expanding it (expanded, it would not fit in memory)', () => {
    let doc = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    const letters = 'abcdefghij';
    for (let i = 1; i < letters.length; i++) {
      const p = letters[i - 1];
      doc += `${letters[i]}: &${letters[i]} [*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p}]\n`;
    }
    doc += 'clouds: {}\n';
    expect(problems(doc)).toEqual(['clouds.yaml expands too many YAML aliases (more than 100); write the values out']);
  });

  it('refuses input over 1 MiB before parsing it', () => {
    const big = `clouds: {}\n# ${'x'.repeat(1024 * 1024)}\n`;
    expect(problems(big)).toEqual([expect.stringMatching(/^clouds\.yaml is larger than 1 MiB \(\d+ bytes\)/)]);
    // Multi-byte characters count as bytes.
    expect(problems(`# ${'é'.repeat(600 * 1024)}\n`)[0]).toMatch(/larger than 1 MiB/);
  });

  it('deeply nested input does not crash the parser', () => {
    const deep = `clouds: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    expect(problems(deep)[0]).toMatch(/clouds/);
  });

  it('rejects non-text input', () => {
    expect(() => parseCloudsYaml(42 as unknown as string)).toThrow(CloudsYamlError);
  });
});

describe('cloud names', () => {
  it('CLOUD_NAME_PATTERN accepts plain names and refuses shell syntax', () => {
    for (const ok of ['prod', 'RegionOne', 'a', '9', 'my-cloud_2.v3']) expect(isValidCloudName(ok)).toBe(true);
    for (const bad of ['', '-x', '.x', '_x', 'a b', 'a;b', 'a$b', '$(id)', '`id`', 'a\nb', 'a/b', 'a|b', "a'b", 'ä']) {
      expect(isValidCloudName(bad)).toBe(false);
      expect(CLOUD_NAME_PATTERN.test(bad)).toBe(false);
    }
  });
});
