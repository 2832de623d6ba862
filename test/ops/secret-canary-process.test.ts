// A secret's content reaches the charm and nothing else: not juju-log, not stderr or stdout, not
// an error message (caught or uncaught), not the unit state file, not a status, not action
// output, not a hook tool's argv or stdin. A canary value is planted in a user secret and
// looked for everywhere after every step, when secret-get succeeds and when it fails, first with
// the real dispatch and the stand-in hook tools, then in memory.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCharmMeta } from '../../src/ops/index.js';
import { Context, on, secret, state } from '../../src/ops/testing/index.js';
import { buildCharmDir, copyCharmDir } from '../support/charm-dir.js';
import { createUnit, type DispatchResult, type SimUnit } from '../support/juju.js';
import { digest, SecretConsumerCharm } from './fixtures/secret-charm/charm.js';

const CANARY = `canary-${randomBytes(6).toString('hex')}`;
const ONE = { password: `${CANARY}-one`, user: `${CANARY}-user` };
const TWO = { password: `${CANARY}-two`, user: `${CANARY}-user` };
const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/secret-charm');

/** Every file under dir, read as text. */
function filesUnder(dir: string): [string, string][] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile() && !f.includes(`${path.sep}node${path.sep}`) && !f.endsWith('.js'))
    .map((f) => [f, readFileSync(f, 'utf8')]);
}

describe('secret content never leaks (the real dispatch, stand-in hook tools)', () => {
  let built: string;
  let charmDir: string;
  let u: SimUnit;
  const results: DispatchResult[] = [];

  beforeAll(async () => {
    built = await buildCharmDir({ entry: 'test/ops/fixtures/secret-charm/main.ts', yamlDir: FIXTURE });
    charmDir = copyCharmDir(built);
    u = createUnit({ charmDir, unitName: 'secret-consumer/0', config: { read: 'get', label: 'db' } });
  });
  afterAll(() => {
    u?.cleanup();
    rmSync(charmDir, { recursive: true, force: true });
    rmSync(built, { recursive: true, force: true });
  });

  /** Runs a hook and checks nothing it left anywhere holds the canary. */
  async function run(...args: Parameters<SimUnit['dispatch']>): Promise<DispatchResult> {
    const r = await u.dispatch(...args);
    results.push(r);
    expect(r.stdout, 'stdout').not.toContain(CANARY);
    expect(r.stderr, 'stderr').not.toContain(CANARY);
    expect(JSON.stringify(r.logs), 'juju-log').not.toContain(CANARY);
    expect(JSON.stringify(r.statusHistory), 'status').not.toContain(CANARY);
    expect(JSON.stringify(r.calls), 'hook tool argv and stdin').not.toContain(CANARY);
    expect(JSON.stringify([r.actionResults, r.actionLogs, r.actionFailed]), 'action output').not.toContain(CANARY);
    for (const [file, text] of filesUnder(charmDir)) expect(text, file).not.toContain(CANARY);
    return r;
  }
  const reads = (): string[] => JSON.parse(readFileSync(path.join(charmDir, '.unit-state.json'), 'utf8')).stored.secrets.reads;

  it('before the grant: permission denied, caught, shown without content', async () => {
    const id = u.addUserSecret(ONE);
    u.setConfig({ 'db-secret': id });
    const r = await run('config-changed');
    expect(r.code).toBe(0);
    expect(u.unitStatus()).toEqual({ status: 'blocked', message: `grant the secret to this application (juju grant-secret): hook tool \`secret-get ${id} --label db --format=json\` exited with code 1: ERROR permission denied` });
    expect(r.logs.some((l) => l.level === 'WARNING' && l.message.includes('ERROR permission denied'))).toBe(true);
    expect(u.secretTracking(id)).toBeUndefined();
  });

  it('granted: read, tracked, labelled; a new revision reaches the charm on secret-changed', async () => {
    const id = String(u.config()['db-secret']);
    u.grantSecret(id);
    expect((await run('config-changed')).code).toBe(0);
    expect(u.secretTracking(id)).toEqual({ revision: 1, label: 'db' });
    expect(u.unitStatus().status).toBe('active');

    expect(u.updateSecret(id, TWO)).toBe(2);
    expect((await run('update-status')).code).toBe(0);
    expect(u.secretTracking(id)).toEqual({ revision: 1, label: 'db' });

    const changed = await run('secret-changed', { secret: { id } });
    expect(changed.code).toBe(0);
    expect(u.secretTracking(id)).toEqual({ revision: 2, label: 'db' });
    const d = (c: Record<string, string>) => `${Object.keys(c).sort().join(',')}:${digest(c.password!)}`;
    expect(reads()).toEqual([
      'config_changed:SecretPermissionError',
      `config_changed:${d(ONE)}`,
      `update_status:${d(ONE)}`,
      `changed-before:${d(ONE)}|changed-after:${d(TWO)}|${id}|db`,
    ]);
    const action = await run({ action: 'check' });
    expect(action.actionResults).toEqual({ keys: 'password,user', digest: digest(TWO.password) });
  });

  it('revoked: an uncaught SecretPermissionError fails the action with a message and a stack without content', async () => {
    const id = String(u.config()['db-secret']);
    u.revokeSecret(id);
    const r = await run({ action: 'check' });
    expect(r.code).toBe(0);
    expect(r.actionFailed).toBe(`check failed: hook tool \`secret-get ${id} --format=json\` exited with code 1: ERROR permission denied`);
    expect(r.stderr).toContain('SecretPermissionError');
    expect(r.logs.find((l) => l.level === 'ERROR')!.message).toMatch(/^Uncaught SecretPermissionError in actions\/check: SecretPermissionError: hook tool/);
    expect(u.secretTracking(id)).toEqual({ revision: 2, label: 'db' });
  });

  it('removed: not found, caught; a hook that fails after reading keeps nothing', async () => {
    const id = String(u.config()['db-secret']);
    u.grantSecret(id);
    u.removeSecret(id);
    const r = await run('update-status');
    expect(r.code).toBe(0);
    expect(u.unitStatus().message).toBe(`the secret is gone: hook tool \`secret-get ${id} --label db --format=json\` exited with code 1: ERROR secret "${id}" not found`);
    // the simulated controller holds the content; nothing the charm or the framework wrote does
    expect(JSON.stringify(u.allLogs())).not.toContain(CANARY);
    expect(JSON.stringify(u.allCalls())).not.toContain(CANARY);
    expect(results.length).toBeGreaterThanOrEqual(7);
  });
});

describe('secret content never leaks (in memory)', () => {
  it('not in logs, stderr, statuses, stored state, calls or action output, on success or failure', async () => {
    const ctx = new Context(SecretConsumerCharm, await loadCharmMeta(FIXTURE));
    const s = secret({ revisions: [ONE, TWO], tracked: 1, label: 'db' });
    const config = { 'db-secret': s.id, read: 'refresh', label: 'db' };
    const runs = [
      await ctx.run(on.configChanged(), state({ config, secrets: [s] })),
      await ctx.run(on.secretChanged(s), state({ config, secrets: [s] })),
      await ctx.run(on.action('check'), state({ config, secrets: [s] })),
      await ctx.run(on.configChanged(), state({ config, secrets: [{ ...s, granted: false }] })),
      // The charm lets the permission error fail the action.
      await ctx.run(on.action('check'), state({ config, secrets: [{ ...s, granted: false }] }), { expectUncaughtError: true }),
      await ctx.run(on.updateStatus(), state({ config })),
    ];
    expect(runs.map((r) => r.exitCode)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(runs[4]!.actionFailure).toMatch(/^check failed: hook tool `secret-get secret:\w+ --format=json` exited with code 1: ERROR permission denied$/);
    expect(`${runs[4]!.uncaughtError?.stack}`).not.toContain(CANARY);
    for (const r of runs) {
      const { state: out, ...recorded } = r;
      expect(JSON.stringify(recorded)).not.toContain(CANARY);
      expect(JSON.stringify({ ...out, secrets: undefined })).not.toContain(CANARY);
    }
  });
});
