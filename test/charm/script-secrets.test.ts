// The script secret's reader and env file (src/charm/script-secrets.ts): the rules Juju's own
// secret store cannot break (an empty secret, keys that are no variable names) are checked too.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SecretNotFoundError, SecretPermissionError } from '../../src/ops/errors.js';
import { readScriptSecret, renderScriptSecretsEnv, scriptSecretVariable } from '../../src/charm/script-secrets.js';

const read = (content: Record<string, string>) => () => content;
const APP = 'builder';

describe('readScriptSecret', () => {
  it('maps each key to IMAGE_BUILDER_SECRET_<key> with - as _', () => {
    expect(scriptSecretVariable('api-key')).toBe('IMAGE_BUILDER_SECRET_api_key');
    expect(readScriptSecret('secret:x', APP, read({ 'api-key': 'v1', token: 'v2' }))).toEqual({ env: { IMAGE_BUILDER_SECRET_api_key: 'v1', IMAGE_BUILDER_SECRET_token: 'v2' } });
    expect(readScriptSecret(undefined, APP, read({}))).toEqual({ none: true });
    expect(readScriptSecret('', APP, read({}))).toEqual({ none: true });
  });

  it('explains what is wrong without showing a value', () => {
    const denied = () => {
      throw new SecretPermissionError('secret-get', ['secret:x'], 1, 'ERROR permission denied');
    };
    const missing = () => {
      throw new SecretNotFoundError('secret-get', ['secret:x'], 1, 'ERROR secret not found');
    };
    expect(readScriptSecret('secret:x', APP, denied)).toEqual({ problem: 'script-secret-id: this application may not read secret secret:x; grant it: juju grant-secret secret:x builder' });
    expect(readScriptSecret('secret:x', APP, missing)).toMatchObject({ problem: expect.stringMatching(/^script-secret-id: secret secret:x does not exist; create one/) });
    expect(readScriptSecret('secret:x', APP, read({}))).toEqual({ problem: 'script-secret-id: secret secret:x has no keys; add the values your script needs: juju update-secret secret:x api-key=...' });
    const bad = readScriptSecret('secret:x', APP, read({ 'Bad Key': 'hidden-value', ok: 'v' }));
    expect(bad).toEqual({ problem: 'script-secret-id: secret secret:x has keys that cannot be environment variable names ("Bad Key"); use lowercase letters, digits and inner dashes' });
    const clash = readScriptSecret('secret:x', APP, read({ 'a-b': '1', a_b: '2' }));
    expect(clash).toMatchObject({ problem: expect.stringMatching(/has keys that (become the same variable|cannot be)/) });
    const big = readScriptSecret('secret:x', APP, read({ big: 'x'.repeat(70_000) }));
    expect(big).toMatchObject({ problem: expect.stringMatching(/^script-secret-id: secret secret:x holds \d+ bytes; the builder's environment takes at most 65536/) });
    expect(JSON.stringify([bad, big])).not.toContain('hidden-value');
  });
});

describe('renderScriptSecretsEnv', () => {
  it('exports every variable single-quoted: sh gets each value back as it was', () => {
    const env = { IMAGE_BUILDER_SECRET_a: "it's $(id) `id`\nline 2", IMAGE_BUILDER_SECRET_b: '' };
    const text = renderScriptSecretsEnv(env);
    const out = execFileSync('sh', ['-c', `${text}\nenv -0`], { encoding: 'utf8', env: {} });
    const got = Object.fromEntries(out.split('\0').filter((kv) => kv.startsWith('IMAGE_BUILDER_SECRET_')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    expect(got).toEqual(env);
  });
});
