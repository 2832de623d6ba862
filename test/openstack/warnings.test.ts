// cloudWarnings: one line per setting that weakens the cloud's security, saying what to do.
import { describe, expect, it } from 'vitest';
import { cloudWarnings, isLoopback, parseCloudsYaml, resolveCloud } from '../../src/openstack/index.js';
import { cloudWarnings as fromClouds } from '../../src/openstack/clouds.js';

const cloud = (authUrl: string, extra = '') =>
  resolveCloud(parseCloudsYaml(`clouds:\n  prod:\n    auth: {auth_url: "${authUrl}", user_id: u, password: pw-canary, project_id: p}\n${extra}`));

describe('cloudWarnings', () => {
  it('nothing to say for https with verification on', () => {
    expect(cloudWarnings(cloud('https://keystone.example:5000/v3'))).toEqual([]);
    expect(cloudWarnings(cloud('https://keystone.example:5000/v3', '    cacert: /etc/ca.pem\n'))).toEqual([]);
  });

  it('verify: false', () => {
    expect(cloudWarnings(cloud('https://keystone.example:5000', '    verify: false\n'))).toEqual([
      'TLS verification is off for cloud "prod" (verify: false): anyone on the path can pose as the cloud and take the password; ' +
        "remove verify: false and set cacert to the CA that signed the cloud's certificate",
    ]);
  });

  it('plain http to a host that is not loopback (URL shown without userinfo)', () => {
    expect(cloudWarnings(cloud('http://demo:pw-canary@keystone.example:5000'))).toEqual([
      'cloud "prod" uses plain http (auth_url http://keystone.example:5000/v3): the password and tokens cross the network unencrypted; ' +
        "use the cloud's https Keystone URL",
    ]);
  });

  it('both, one line each', () => {
    const lines = cloudWarnings(cloud('http://10.0.0.5:5000', '    verify: false\n'));
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain('\n');
  });

  it('plain http on loopback is fine (127.0.0.0/8, ::1, localhost)', () => {
    for (const url of ['http://127.0.0.1:5000', 'http://127.9.8.7/identity', 'http://[::1]:5000', 'http://localhost:5000', 'http://LOCALHOST.:5000']) {
      expect(cloudWarnings(cloud(url)), url).toEqual([]);
    }
  });

  it('is exported by clouds.ts too (hooks that parse clouds.yaml load nothing more)', () => {
    expect(fromClouds).toBe(cloudWarnings);
  });
});

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['::1', true],
    ['localhost', true],
    ['keystone.localhost', true],
    ['[::ffff:7f00:1]', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['localhost.example.com', false],
    ['127.0.0.1.nip.io', false],
    ['[::2]', false],
  ])('%s: %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });
});
