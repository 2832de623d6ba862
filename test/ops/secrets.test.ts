// Secrets through the framework (ops' Secret API over secret-get), run in memory by the Scenario-
// style Context against Juju's rules: the tracked revision by default, peek and refresh, labels,
// the per-dispatch cache, the typed errors, secret events, config options of type secret.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharmBase,
  loadCharmMeta,
  ModelError,
  SecretNotFoundError,
  SecretPermissionError,
  type CharmMeta,
  type Framework,
  type SecretExpiredEvent,
  type SecretRemoveEvent,
  type SecretRotateEvent,
} from '../../src/ops/index.js';
import { Context, on, secret, state } from '../../src/ops/testing/index.js';
import { digest, SecretConsumerCharm } from './fixtures/secret-charm/charm.js';

const ONE = { password: 'pw-revision-one', user: 'admin' };
const TWO = { password: 'pw-revision-two', user: 'admin' };
const S1 = 'secret:cq8gl6vmp25c77o6ej50';

let meta: CharmMeta;
let ctx: Context;
beforeAll(async () => {
  meta = await loadCharmMeta(path.join(import.meta.dirname, 'fixtures/secret-charm'));
  ctx = new Context(SecretConsumerCharm, meta);
});

const reads = (s: { stored: Record<string, Record<string, unknown>> }) => s.stored.secrets?.reads as string[];
const shown = (what: string, c: Record<string, string>) => `${what}:${Object.keys(c).sort().join(',')}:${digest(c.password!)}`;
const secretGets = (calls: { tool: string; argv: string[] }[]) => calls.filter((c) => c.tool === 'secret-get').map((c) => c.argv);

describe('Model.getSecret and Secret.getContent', () => {
  it('reads the tracked revision by default, once per dispatch, and sets the label on the first read by id', async () => {
    const s = secret({ id: S1, revisions: [ONE, TWO], tracked: 1 });
    const out = await ctx.run(on.configChanged(), state({ config: { 'db-secret': S1, label: 'db' }, secrets: [s] }));
    expect(out.exitCode).toBe(0);
    expect(reads(out.state)).toEqual([shown('config_changed', ONE)]);
    // one call for two getContent(): `secret-get <id> --label <label> --format=json`
    expect(secretGets(out.calls)).toEqual([[S1, '--label', 'db', '--format=json']]);
    expect(out.state.secrets).toEqual([{ ...s, tracked: 1, label: 'db' }]);
    expect(out.logs.map((l) => l.message)).toContain(`read secret ${S1} (label db) with keys password, user`);
  });

  it('pins the latest revision on the very first read', async () => {
    const s = secret({ id: S1, revisions: [ONE, TWO] });
    const out = await ctx.run(on.configChanged(), state({ config: { 'db-secret': S1, label: '' }, secrets: [s] }));
    expect(reads(out.state)).toEqual([shown('config_changed', TWO)]);
    expect(secretGets(out.calls)).toEqual([[S1, '--format=json']]);
    expect(out.state.secrets![0]).toMatchObject({ tracked: 2 });
    expect(out.state.secrets![0]!.label).toBeUndefined();
  });

  it('peekContent reads the latest without tracking it; getContent({ refresh }) reads it and tracks it', async () => {
    const s = secret({ id: S1, revisions: [ONE, TWO], tracked: 1, label: 'db' });
    const peeked = await ctx.run(on.configChanged(), state({ config: { 'db-secret': S1, read: 'peek', label: 'db' }, secrets: [s] }));
    expect(reads(peeked.state)).toEqual([shown('config_changed', TWO)]);
    // the peek is not cached: the plain read after it is a call of its own, for the tracked revision
    expect(secretGets(peeked.calls)).toEqual([
      [S1, '--label', 'db', '--peek', '--format=json'],
      [S1, '--label', 'db', '--format=json'],
    ]);
    expect(peeked.state.secrets![0]).toMatchObject({ tracked: 1 });

    const refreshed = await ctx.run(on.configChanged(), state({ config: { 'db-secret': S1, read: 'refresh', label: 'db' }, secrets: [s] }));
    expect(reads(refreshed.state)).toEqual([shown('config_changed', TWO)]);
    expect(secretGets(refreshed.calls)).toEqual([[S1, '--label', 'db', '--refresh', '--format=json']]);
    expect(refreshed.state.secrets![0]).toMatchObject({ tracked: 2 });
  });

  it('a refresh updates what every reference to the secret returns in the same dispatch', async () => {
    class Twice extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('update_status', this, this.onStatus);
      }
      onStatus(): void {
        const byId = this.model.getSecret({ id: S1 });
        const byLabel = this.model.getSecret({ label: 'db' });
        const seen = [byId.getContent().password, byLabel.getContent().password, byLabel.getContent({ refresh: true }).password, byId.getContent().password];
        this.framework.storedState('t', { seen: [] as string[] }).set({ seen: seen.map((p) => p!) });
        expect(() => byId.getContent({ refresh: true, peek: true })).toThrow(ModelError);
      }
    }
    const out = await new Context(Twice, meta).run(on.updateStatus(), state({ secrets: [secret({ id: S1, revisions: [ONE, TWO], tracked: 1, label: 'db' })] }));
    expect(out.exitCode).toBe(0);
    expect(out.state.stored.t!.seen).toEqual(['pw-revision-one', 'pw-revision-one', 'pw-revision-two', 'pw-revision-two']);
    expect(secretGets(out.calls)).toEqual([
      [S1, '--format=json'],
      ['--label', 'db', '--format=json'],
      ['--label', 'db', '--refresh', '--format=json'],
      [S1, '--format=json'],
    ]);
  });

  it('canonicalizes ids as ops does, and needs an id or a label', async () => {
    let got: (string | undefined)[] = [];
    class Ids extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('update_status', this, () => {
          got = [
            this.model.getSecret({ id: ' secret:cq8gl6vmp25c77o6ej50 ' }).id,
            this.model.getSecret({ id: 'cq8gl6vmp25c77o6ej50' }).id,
            this.model.getSecret({ id: 'cq8gl6vmp25c77o6ej50' }).uniqueIdentifier,
            this.model.getSecret({ label: 'db' }).id,
            String(this.model.getSecret({ id: S1, label: 'db' })),
            JSON.stringify(this.model.getSecret({ id: S1, label: 'db' })),
          ];
          expect(() => this.model.getSecret({})).toThrow(/getSecret needs the secret's id, this unit's label for it, or both/);
        }, { key: 'ids' });
      }
    }
    expect((await new Context(Ids, meta).run(on.updateStatus(), state())).exitCode).toBe(0);
    expect(got).toEqual([
      S1,
      'secret://00000000-0000-4000-8000-000000000000/cq8gl6vmp25c77o6ej50',
      'cq8gl6vmp25c77o6ej50',
      undefined,
      `Secret(id=${S1} label=db)`,
      `{"id":"${S1}","label":"db"}`,
    ]);
  });
});

describe('secret errors', () => {
  it('a secret not granted is a SecretPermissionError naming the id, and the charm goes on', async () => {
    const s = secret({ id: S1, revisions: [ONE], tracked: 1, label: 'db', granted: false });
    const out = await ctx.run(on.configChanged(), state({ config: { 'db-secret': S1, label: 'db' }, secrets: [s] }));
    expect(out.exitCode).toBe(0);
    expect(reads(out.state)).toEqual(['config_changed:SecretPermissionError']);
    expect(out.state.unitStatus).toEqual({
      status: 'blocked',
      message: `grant the secret to this application (juju grant-secret): hook tool \`secret-get ${S1} --label db --format=json\` exited with code 1: ERROR permission denied`,
    });
  });

  it('a secret that does not exist is a SecretNotFoundError naming the id', async () => {
    const out = await ctx.run(on.configChanged(), state({ config: { 'db-secret': S1, label: '' } }));
    expect(reads(out.state)).toEqual(['config_changed:SecretNotFoundError']);
    expect(out.state.unitStatus.message).toBe(`the secret is gone: hook tool \`secret-get ${S1} --format=json\` exited with code 1: ERROR secret "${S1}" not found`);
  });

  it('the error classes are typed HookToolErrors with the argv and exit code', async () => {
    let caught: unknown[] = [];
    class Catcher extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('update_status', this, () => {
          caught = [];
          for (const ref of [{ id: S1 }, { label: 'nope' }, { id: 'secret:copp9vfmp25c77di8nm0' }]) {
            try {
              this.model.getSecret(ref).getContent();
            } catch (err) {
              caught.push(err);
            }
          }
        }, { key: 'catch' });
      }
    }
    const denied = secret({ id: S1, revisions: [ONE], granted: false });
    await new Context(Catcher, meta).run(on.updateStatus(), state({ secrets: [denied] }));
    expect(caught.map((e) => (e as Error).constructor)).toEqual([SecretPermissionError, SecretNotFoundError, SecretNotFoundError]);
    expect(caught.map((e) => (e as SecretNotFoundError).stderr)).toEqual(['ERROR permission denied', 'ERROR consumer label "nope" not found', 'ERROR secret "secret:copp9vfmp25c77di8nm0" not found']);
    expect((caught[1] as SecretNotFoundError).command).toEqual(['secret-get', '--label', 'nope', '--format=json']);
    expect((caught[0] as SecretPermissionError).exitCode).toBe(1);
  });
});

describe('secret events', () => {
  it('secret_changed carries the secret (id and label); the handler reads the tracked revision, then refreshes', async () => {
    const s = secret({ id: S1, revisions: [ONE, TWO], tracked: 1, label: 'db' });
    const event = on.secretChanged(s);
    expect(event.env).toMatchObject({ JUJU_SECRET_ID: S1, JUJU_SECRET_LABEL: 'db' });
    const out = await ctx.run(event, state({ secrets: [s] }));
    expect(out.exitCode).toBe(0);
    expect(reads(out.state)).toEqual([`${shown('changed-before', ONE)}|${shown('changed-after', TWO)}|${S1}|db`]);
    expect(out.state.secrets![0]).toMatchObject({ tracked: 2, label: 'db' });
  });

  it('secret_remove and secret_expired carry the revision, secret_rotate none; rotate and expired cannot be deferred', async () => {
    const owned = secret({ id: S1, revisions: [ONE, TWO], owner: 'app', label: 'mine' });
    let deferErrors: string[] = [];
    class Owner extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('secret_rotate', this, this.onRotate);
        framework.observe('secret_expired', this, this.onExpired);
        framework.observe('secret_remove', this, this.onRemove);
      }
      private seen(entry: string): void {
        const st = this.framework.storedState('o', { seen: [] as string[] });
        st.set({ seen: [...st.data.seen, entry] });
      }
      onRotate(e: SecretRotateEvent): void {
        this.seen(`rotate:${e.secret.id}:${e.secret.label}`);
        try {
          e.defer();
        } catch (err) {
          deferErrors.push((err as Error).message);
        }
      }
      onExpired(e: SecretExpiredEvent): void {
        this.seen(`expired:${e.revision}`);
        try {
          e.defer();
        } catch (err) {
          deferErrors.push((err as Error).message);
        }
      }
      onRemove(e: SecretRemoveEvent): void {
        this.seen(`remove:${e.revision}:${e.secret.getInfo().revision}`);
        e.defer();
      }
    }
    const octx = new Context(Owner, meta);
    const st = state({ leader: true, secrets: [owned] });
    deferErrors = [];
    expect((await octx.run(on.secretRotate(owned), st)).state.stored.o!.seen).toEqual([`rotate:${S1}:mine`]);
    expect((await octx.run(on.secretExpired(owned, 2), st)).state.stored.o!.seen).toEqual(['expired:2']);
    expect(deferErrors).toEqual([
      'the secret_rotate event cannot be deferred: Juju fires it again until the secret gets a new revision',
      'the secret_expired event cannot be deferred: Juju fires it again until the secret gets a new revision',
    ]);
    const removed = await octx.run(on.secretRemove(owned, 1), st);
    expect(removed.state.stored.o!.seen).toEqual(['remove:1:2']);
    // deferred with its id, label and revision, and re-emitted from them
    expect(removed.state.deferred.map((n) => [n.event, n.snapshot])).toEqual([['secret_remove', { id: S1, label: 'mine', revision: 1 }]]);
    const again = await octx.run(on.updateStatus(), removed.state);
    expect(again.state.stored.o!.seen).toEqual(['remove:1:2', 'remove:1:2']);
  });
});

describe('config options of type secret', () => {
  it('accept secret URIs and refuse anything else without showing the value', async () => {
    let error: string | undefined;
    class Cfg extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('config_changed', this, () => {
          try {
            this.model.config();
          } catch (err) {
            error = (err as Error).message;
          }
        }, { key: 'cfg' });
      }
    }
    // an empty string is an option that is not set (`default: ""`)
    for (const uri of [S1, 'secret://00000000-0000-4000-8000-000000000000/cq8gl6vmp25c77o6ej50', '']) {
      error = undefined;
      const b = await new Context(Cfg, meta).run(on.configChanged(), state({ config: { 'db-secret': uri } }));
      expect([b.exitCode, error]).toEqual([0, undefined]);
    }
    // The consistency check refuses such a state; Juju itself would too, so feed config-get directly.
    const { MemoryBackend } = await import('../../src/ops/testing/index.js');
    const { dispatch } = await import('../../src/ops/index.js');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'secret-cfg-'));
    try {
      const env = { JUJU_UNIT_NAME: 'secret-consumer/0', JUJU_MODEL_NAME: 'm', JUJU_CHARM_DIR: dir, JUJU_VERSION: '3.6.4', JUJU_DISPATCH_PATH: 'hooks/config-changed' };
      const backend = new MemoryBackend(state({ config: { 'db-secret': 'hunter2-not-a-uri' } }), 'secret-consumer/0', undefined, env);
      expect(await dispatch({ charm: Cfg, meta, backend, env, stderr: () => undefined })).toBe(0);
      expect(error).toBe(
        'config option "db-secret" is declared secret in config.yaml but Juju gave a string that is not a secret URI (17 characters); a secret option holds secret:<20 characters 0-9a-v> or secret://<model-uuid>/<id>, e.g. what juju add-secret printed',
      );
      expect(error).not.toContain('hunter2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
