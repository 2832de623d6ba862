// Each event class owns its snapshot and restore: what a deferred event saves is enough for its
// class to rebuild it in a later dispatch, and a snapshot it cannot use is refused (the
// framework then drops the notice with a warning) rather than half rebuilt.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ActionEvent,
  CharmBase,
  CustomEvent,
  HookEvent,
  Model,
  RelationEvent,
  SecretChangedEvent,
  SecretEvent,
  SecretExpiredEvent,
  SecretRemoveEvent,
  SecretRotateEvent,
  type EventSource,
  type Framework,
} from '../../src/ops/index.js';
import { readContext } from '../../src/ops/context.js';
import { charmDir, cleanupCharmDirs, RecordingBackend, run, testMeta } from './harness.js';

afterEach(cleanupCharmDirs);

function source(env: Record<string, string> = {}): EventSource {
  const backend = new RecordingBackend();
  const context = readContext({ JUJU_UNIT_NAME: 'test-charm/0', JUJU_MODEL_NAME: 'm', JUJU_CHARM_DIR: '/c', JUJU_VERSION: '3.6.4', JUJU_DISPATCH_PATH: 'hooks/install', ...env });
  return { context, backend, model: new Model(backend, testMeta, context, {}), customEvents: { built: { env: ['IMAGE'] } } };
}

describe('event snapshot and restore', () => {
  it('round-trips a hook event', () => {
    const e = HookEvent.restore('config_changed', new HookEvent('config_changed').snapshot(), source());
    expect(e).toBeInstanceOf(HookEvent);
    expect(e!.name).toBe('config_changed');
  });

  it('round-trips a relation event with its relation, remote app and units', () => {
    const src = source({ JUJU_DISPATCH_PATH: 'hooks/db-relation-departed', JUJU_RELATION: 'db', JUJU_RELATION_ID: 'db:4', JUJU_REMOTE_UNIT: 'pg/1', JUJU_DEPARTING_UNIT: 'pg/1' });
    const original = RelationEvent.fromContext('db_relation_departed', src);
    const snap = JSON.parse(JSON.stringify(original.snapshot()));
    expect(snap).toEqual({ endpoint: 'db', relationId: 4, app: 'pg', unit: 'pg/1', departingUnit: 'pg/1' });
    const e = RelationEvent.restore('db_relation_departed', snap, source());
    expect(e).toBeInstanceOf(RelationEvent);
    expect([e!.phase, e!.relation.ref, e!.app, e!.unit, e!.departingUnit]).toEqual(['departed', 'db:4', 'pg', 'pg/1', 'pg/1']);
  });

  it('round-trips a custom event with its data, captured from the environment', () => {
    const original = CustomEvent.fromContext('built', source({ JUJU_DISPATCH_PATH: 'hooks/built', IMAGE: 'img-1', OTHER: 'x' }));
    expect(original.data).toEqual({ IMAGE: 'img-1' });
    const e = CustomEvent.restore('built', JSON.parse(JSON.stringify(original.snapshot())), source());
    expect(e!.data).toEqual({ IMAGE: 'img-1' });
  });

  it('round-trips secret events with the id, label and revision (never content)', () => {
    const id = 'secret:cq8gl6vmp25c77o6ej50';
    const changed = SecretEvent.fromContext('secret_changed', source({ JUJU_DISPATCH_PATH: 'hooks/secret-changed', JUJU_SECRET_ID: id, JUJU_SECRET_LABEL: 'db' }));
    expect(changed).toBeInstanceOf(SecretChangedEvent);
    expect(changed.snapshot()).toEqual({ id, label: 'db' });
    expect([changed.secret.id, changed.secret.label]).toEqual([id, 'db']);
    const removed = SecretEvent.fromContext('secret_remove', source({ JUJU_DISPATCH_PATH: 'hooks/secret-remove', JUJU_SECRET_ID: id, JUJU_SECRET_REVISION: '4' }));
    expect(removed).toBeInstanceOf(SecretRemoveEvent);
    expect(removed.snapshot()).toEqual({ id, revision: 4 });
    const back = SecretEvent.restore('secret_remove', JSON.parse(JSON.stringify(removed.snapshot())), source());
    expect(back).toBeInstanceOf(SecretRemoveEvent);
    expect([(back as SecretRemoveEvent).revision, back!.secret.id, back!.secret.label]).toEqual([4, id, undefined]);
    expect(SecretEvent.restore('secret_changed', { id, label: 'db' }, source())).toBeInstanceOf(SecretChangedEvent);
    expect(SecretEvent.restore('secret_rotate', { id }, source())).toBeInstanceOf(SecretRotateEvent);
    expect(SecretEvent.restore('secret_expired', { id, revision: 2 }, source())).toBeInstanceOf(SecretExpiredEvent);
  });

  it('refuses snapshots it cannot rebuild from', () => {
    expect(SecretEvent.restore('secret_changed', {}, source())).toBeUndefined();
    expect(SecretEvent.restore('secret_changed', { id: 'secret:cq8gl6vmp25c77o6ej50', label: 3 }, source())).toBeUndefined();
    expect(SecretEvent.restore('secret_remove', { id: 'secret:cq8gl6vmp25c77o6ej50' }, source())).toBeUndefined();
    expect(SecretEvent.restore('secret_expired', { id: 'secret:cq8gl6vmp25c77o6ej50', revision: 0 }, source())).toBeUndefined();
    expect(RelationEvent.restore('db_relation_joined', { endpoint: 'db' }, source())).toBeUndefined();
    expect(RelationEvent.restore('not_a_relation_event', { endpoint: 'db', relationId: 1 }, source())).toBeUndefined();
    expect(CustomEvent.restore('built', { data: { IMAGE: 7 } }, source())).toBeUndefined();
    expect(CustomEvent.restore('built', { data: ['x'] }, source())).toBeUndefined();
    expect(ActionEvent.restore()).toBeUndefined();
  });
});

describe('deferred notices the event class cannot rebuild', () => {
  it('are dropped with a warning, and the hook goes on', async () => {
    let called = 0;
    class Db extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('db_relation_joined', this, this.onJoined);
      }
      onJoined(): void {
        called++;
      }
    }
    const dir = charmDir();
    const notice = { seq: 1, event: 'db_relation_joined', observer: 'Db/onJoined', snapshot: { endpoint: 'db' } };
    writeFileSync(path.join(dir, '.unit-state.json'), JSON.stringify({ version: 1, nextSeq: 2, deferred: [notice], stored: {} }));
    const backend = new RecordingBackend();
    expect((await run(Db, 'hooks/update-status', { dir, backend })).code).toBe(0);
    expect(called).toBe(0);
    expect(backend.logs().find((l) => l.level === 'WARNING')?.message).toBe('dropping deferred event db_relation_joined for Db/onJoined: it cannot be rebuilt');
  });
});
