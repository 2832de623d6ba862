// In-process dispatch for the framework's own tests: the real dispatcher, a charm dir in a temp
// directory (so the unit state file carries over between runs), and a backend that records
// every hook-tool operation in one ordered list (juju-log calls included), so a test can see
// what happened in what order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { charmMetaFrom, dispatch, SecretNotFoundError, type Backend, type CharmClass, type CharmMeta, type Databag, type LogLevel, type SecretRef, type StatusName } from '../../src/ops/index.js';
import type { SecretMetadataValue, StatusValue } from '../../src/ops/backend.js';
import { checkUncaught, type RunOptions } from '../../src/ops/testing/index.js';

export interface Call {
  readonly op: string;
  readonly args: readonly unknown[];
}

export class RecordingBackend implements Backend {
  readonly calls: Call[] = [];
  unitStatus: StatusValue = { status: 'unknown', message: '' };

  /** secret-get's answers, by the id or label asked for. */
  secretContent: Record<string, Databag> = {};

  constructor(public config: Record<string, unknown> = {}) {}

  /** Lets a test put its own marks (a "long step") into the call order. */
  mark(what: string): void {
    this.calls.push({ op: 'mark', args: [what] });
  }
  logs(): { level: LogLevel; message: string }[] {
    return this.calls.filter((c) => c.op === 'juju-log').map((c) => ({ level: c.args[0] as LogLevel, message: c.args[1] as string }));
  }
  statusSets(): { status: string; message: string }[] {
    return this.calls.filter((c) => c.op === 'status-set').map((c) => ({ status: c.args[0] as string, message: c.args[1] as string }));
  }
  clear(): void {
    this.calls.length = 0;
  }

  private rec(op: string, ...args: unknown[]): void {
    this.calls.push({ op, args });
  }
  configGet(): Record<string, unknown> {
    this.rec('config-get');
    return structuredClone(this.config);
  }
  statusSet(status: StatusName, message: string, application: boolean): void {
    this.rec('status-set', status, message, application);
    if (!application) this.unitStatus = { status, message };
  }
  statusGet(): StatusValue {
    this.rec('status-get');
    return this.unitStatus;
  }
  jujuLog(level: LogLevel, message: string): void {
    this.rec('juju-log', level, message);
  }
  isLeader(): boolean {
    this.rec('is-leader');
    return false;
  }
  actionGet(): Record<string, unknown> {
    this.rec('action-get');
    return {};
  }
  actionSet(flat: Readonly<Record<string, string>>): void {
    this.rec('action-set', flat);
  }
  actionLog(message: string): void {
    this.rec('action-log', message);
  }
  actionFail(message: string): void {
    this.rec('action-fail', message);
  }
  relationIds(endpoint: string): string[] {
    this.rec('relation-ids', endpoint);
    return [];
  }
  relationList(relationId: string): string[] {
    this.rec('relation-list', relationId);
    return [];
  }
  relationRemoteApp(relationId: string): string {
    this.rec('relation-list --app', relationId);
    return 'remote';
  }
  relationGet(relationId: string, member: string, app: boolean): Databag {
    this.rec('relation-get', relationId, member, app);
    return {};
  }
  relationSet(relationId: string, data: Readonly<Databag>, app: boolean): void {
    this.rec('relation-set', relationId, data, app);
  }
  applicationVersionSet(version: string): void {
    this.rec('application-version-set', version);
  }
  secretGet(ref: SecretRef, mode?: 'refresh' | 'peek'): Databag {
    this.rec('secret-get', { ...ref }, mode);
    const content = this.secretContent[ref.id ?? ''] ?? this.secretContent[ref.label ?? ''];
    if (!content) throw new SecretNotFoundError('secret-get', [ref.id ?? `--label ${ref.label}`], 1, 'ERROR secret not found\n');
    return { ...content };
  }
  secretInfoGet(ref: SecretRef): SecretMetadataValue {
    this.rec('secret-info-get', { ...ref });
    throw new SecretNotFoundError('secret-info-get', [ref.id ?? `--label ${ref.label}`], 1, 'ERROR secret not found\n');
  }
}

export const testMeta: CharmMeta = charmMetaFrom(
  { name: 'test-charm', provides: { db: { interface: 'db' } } },
  { options: { interval: { type: 'int', default: 6 }, name: { type: 'string', default: 'x' } } },
  { 'do-it': {} },
);

const dirs: string[] = [];
/** A fresh charm directory; removed by cleanupCharmDirs. */
export function charmDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'ops-test-'));
  dirs.push(d);
  return d;
}
export function cleanupCharmDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * Dispatches `dispatchPath` (e.g. `hooks/config-changed`) to a fresh instance of `charm`. An
 * error the charm does not catch throws UncaughtCharmError unless `expectUncaughtError`.
 */
export async function run(
  charm: CharmClass,
  dispatchPath: string,
  opts: { dir: string; backend: RecordingBackend; env?: Record<string, string>; meta?: CharmMeta } & RunOptions,
): Promise<{ code: number; stderr: string; uncaughtError?: Error }> {
  let stderr = '';
  let uncaught: Error | undefined;
  const code = await dispatch({
    charm,
    backend: opts.backend,
    meta: opts.meta ?? testMeta,
    stderr: (t) => (stderr += t),
    onUncaughtError: (e) => (uncaught = e),
    env: {
      JUJU_UNIT_NAME: 'test-charm/0',
      JUJU_MODEL_NAME: 'm',
      JUJU_CHARM_DIR: opts.dir,
      JUJU_VERSION: '3.6.4',
      JUJU_DISPATCH_PATH: dispatchPath,
      ...opts.env,
    },
  });
  return checkUncaught(dispatchPath, uncaught, { code, stderr, ...(uncaught ? { uncaughtError: uncaught } : {}) }, opts);
}
