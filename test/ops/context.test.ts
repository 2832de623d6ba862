// How the dispatch path and environment become an event, as ops does it.
import { describe, expect, it } from 'vitest';
import { ContextError } from '../../src/ops/index.js';
import { eventNameFromDispatchPath, readContext } from '../../src/ops/context.js';

const base = { JUJU_UNIT_NAME: 'app/0', JUJU_MODEL_NAME: 'm', JUJU_CHARM_DIR: '/charm', JUJU_VERSION: '3.6.4' };

describe('event names', () => {
  it.each([
    ['hooks/config-changed', 'config_changed'],
    ['hooks/image-relation-joined', 'image_relation_joined'],
    ['actions/get-latest', 'get_latest_action'],
    ['hooks/build_success', 'build_success'],
    ['build_success', 'build_success'],
    ['/var/lib/juju/agents/unit-app-0/charm/hooks/install', 'install'],
  ])('%s -> %s', (p, name) => expect(eventNameFromDispatchPath(p)).toBe(name));
});

describe('readContext', () => {
  it('reads a relation event', () => {
    const ctx = readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/image-relation-joined', JUJU_RELATION: 'image', JUJU_RELATION_ID: 'image:3', JUJU_REMOTE_APP: 'runner', JUJU_REMOTE_UNIT: 'runner/1' });
    expect(ctx.relation).toEqual({ endpoint: 'image', id: 3, remoteApp: 'runner', remoteUnit: 'runner/1' });
    expect(ctx.appName).toBe('app');
  });

  it('reads relation-changed with JUJU_REMOTE_UNIT empty as a change of the remote application\'s databag', () => {
    const peer = { ...base, JUJU_DISPATCH_PATH: 'hooks/cluster-relation-changed', JUJU_RELATION: 'cluster', JUJU_RELATION_ID: 'cluster:0', JUJU_REMOTE_APP: 'app', JUJU_REMOTE_UNIT: '' };
    expect(readContext(peer).relation).toEqual({ endpoint: 'cluster', id: 0, remoteApp: 'app' });
    const { JUJU_REMOTE_UNIT: _unset, ...unset } = peer;
    expect(readContext(unset).relation).toEqual({ endpoint: 'cluster', id: 0, remoteApp: 'app' });
    // without a remote application there is nothing to say whose databag changed
    expect(() => readContext({ ...peer, JUJU_REMOTE_APP: '' })).toThrow(/JUJU_REMOTE_APP is not set/);
    // joined and departed always name the unit
    expect(() => readContext({ ...peer, JUJU_DISPATCH_PATH: 'hooks/cluster-relation-joined' })).toThrow(/JUJU_REMOTE_UNIT is not set/);
  });

  it('reads an action', () => {
    const ctx = readContext({ ...base, JUJU_DISPATCH_PATH: 'actions/get-latest', JUJU_ACTION_UUID: '42', JUJU_ACTION_NAME: 'get-latest' });
    expect(ctx.action).toEqual({ name: 'get-latest', id: '42' });
    expect(ctx.eventName).toBe('get_latest_action');
  });

  it('reads a secret event: id, label (when not empty) and, for remove and expired, the revision', () => {
    const id = 'secret:cq8gl6vmp25c77o6ej50';
    expect(readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/secret-changed', JUJU_SECRET_ID: id, JUJU_SECRET_LABEL: 'db' }).secret).toEqual({ id, label: 'db' });
    expect(readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/secret-rotate', JUJU_SECRET_ID: id, JUJU_SECRET_LABEL: '' }).secret).toEqual({ id });
    expect(readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/secret-remove', JUJU_SECRET_ID: id, JUJU_SECRET_REVISION: '3' }).secret).toEqual({ id, revision: 3 });
    expect(readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/secret-expired', JUJU_SECRET_ID: id, JUJU_SECRET_REVISION: '1' }).secret).toEqual({ id, revision: 1 });
    expect(readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/config-changed', JUJU_SECRET_ID: id }).secret).toBeUndefined();
    expect(() => readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/secret-remove', JUJU_SECRET_ID: id, JUJU_SECRET_REVISION: 'latest' })).toThrow(/JUJU_SECRET_REVISION "latest" is not a revision number/);
  });

  it('falls back to the invocation path for legacy hooks', () => {
    const ctx = readContext(base, { invokedAs: '/charm/hooks/install' });
    expect(ctx.dispatchPath).toBe('hooks/install');
    expect(ctx.eventName).toBe('install');
  });

  it.each([
    ['JUJU_UNIT_NAME', { ...base, JUJU_UNIT_NAME: undefined, JUJU_DISPATCH_PATH: 'hooks/install' }],
    ['JUJU_MODEL_NAME', { ...base, JUJU_MODEL_NAME: '', JUJU_DISPATCH_PATH: 'hooks/install' }],
    ['JUJU_VERSION', { ...base, JUJU_VERSION: undefined, JUJU_DISPATCH_PATH: 'hooks/install' }],
    ['JUJU_CHARM_DIR', { ...base, JUJU_CHARM_DIR: undefined, JUJU_DISPATCH_PATH: 'hooks/install' }],
    ['JUJU_RELATION_ID', { ...base, JUJU_DISPATCH_PATH: 'hooks/image-relation-changed', JUJU_RELATION: 'image', JUJU_REMOTE_UNIT: 'r/0' }],
    ['JUJU_REMOTE_UNIT', { ...base, JUJU_DISPATCH_PATH: 'hooks/image-relation-joined', JUJU_RELATION: 'image', JUJU_RELATION_ID: 'image:1', JUJU_REMOTE_APP: 'r' }],
    ['JUJU_DEPARTING_UNIT', { ...base, JUJU_DISPATCH_PATH: 'hooks/image-relation-departed', JUJU_RELATION: 'image', JUJU_RELATION_ID: 'image:1', JUJU_REMOTE_UNIT: 'r/0' }],
    ['JUJU_ACTION_UUID', { ...base, JUJU_DISPATCH_PATH: 'actions/get-latest' }],
    ['JUJU_SECRET_ID', { ...base, JUJU_DISPATCH_PATH: 'hooks/secret-changed', JUJU_SECRET_LABEL: 'db' }],
    ['JUJU_SECRET_REVISION', { ...base, JUJU_DISPATCH_PATH: 'hooks/secret-expired', JUJU_SECRET_ID: 'secret:cq8gl6vmp25c77o6ej50' }],
    ['JUJU_DISPATCH_PATH', base],
  ])('names the missing variable %s', (name, env) => {
    expect(() => readContext(env as Record<string, string>)).toThrow(ContextError);
    expect(() => readContext(env as Record<string, string>)).toThrow(name);
  });

  it('rejects a malformed relation id', () => {
    expect(() => readContext({ ...base, JUJU_DISPATCH_PATH: 'hooks/image-relation-broken', JUJU_RELATION: 'image', JUJU_RELATION_ID: 'image:x', JUJU_REMOTE_APP: 'r' })).toThrow(/JUJU_RELATION_ID "image:x"/);
  });
});
