// loadConfig (ops' load_config(errors='blocked')) and collect-status (ops' collect_unit_status):
// candidate statuses gathered during a dispatch, the highest-priority one set once at the end,
// and no status-set call when it is the status the unit last set. Statuses set directly with
// unit.setStatus (maintenance while installing) still take effect when they are set.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ActiveStatus,
  BlockedStatus,
  CharmBase,
  ConfigInvalid,
  FrameworkObject,
  MaintenanceStatus,
  WaitingStatus,
  type CollectStatusEvent,
  type ConfigShape,
  type Framework,
  type HookEvent,
  type Status,
} from '../../src/ops/index.js';
import { charmDir, cleanupCharmDirs, RecordingBackend, run } from './harness.js';

afterEach(cleanupCharmDirs);

type Config = { interval: number; name: string };
let loaded: unknown[] = [];
let backendRef: RecordingBackend;

function parse(c: Readonly<Config>): { hours: number } {
  if (c.interval < 1) throw new ConfigInvalid(`interval must be at least 1, got ${c.interval}`);
  if (c.name === 'boom') throw new TypeError('parser bug');
  return { hours: c.interval };
}

class ConfigCharm extends CharmBase<string, Config> {
  constructor(framework: Framework<string, Config>) {
    super(framework);
    framework.observe('config_changed', this, this.onConfig);
    framework.observe('update_status', this, this.onUpdate);
  }
  onConfig(): void {
    loaded.push(this.loadConfig(parse));
    backendRef.mark('after loadConfig');
  }
  async onUpdate(): Promise<void> {
    loaded.push(await this.loadConfig(async (c) => parse(c)));
  }
}

describe('loadConfig', () => {
  const setup = (config: Record<string, unknown>) => {
    loaded = [];
    backendRef = new RecordingBackend(config);
    return backendRef;
  };

  it('returns the parsed config, and sets no status', async () => {
    const backend = setup({ interval: 6, name: 'x' });
    expect((await run(ConfigCharm, 'hooks/config-changed', { dir: charmDir(), backend })).code).toBe(0);
    expect(loaded).toEqual([{ hours: 6 }]);
    expect(backend.statusSets()).toEqual([]);
  });

  it('on ConfigInvalid returns undefined, logs a warning, and blocks the unit with the message at the end of the dispatch', async () => {
    const backend = setup({ interval: 0, name: 'x' });
    expect((await run(ConfigCharm, 'hooks/config-changed', { dir: charmDir(), backend })).code).toBe(0);
    expect(loaded).toEqual([undefined]);
    const ops = backend.calls.map((c) => c.op);
    expect(ops.indexOf('mark')).toBeLessThan(ops.indexOf('status-set'));
    expect(backend.statusSets()).toEqual([{ status: 'blocked', message: 'interval must be at least 1, got 0' }]);
    expect(backend.logs().filter((l) => l.level === 'WARNING').map((l) => l.message)).toEqual(['invalid configuration: interval must be at least 1, got 0']);
  });

  it('works with an async parser', async () => {
    const backend = setup({ interval: 0, name: 'x' });
    expect((await run(ConfigCharm, 'hooks/update-status', { dir: charmDir(), backend })).code).toBe(0);
    expect(loaded).toEqual([undefined]);
    expect(backend.statusSets()).toEqual([{ status: 'blocked', message: 'interval must be at least 1, got 0' }]);
    const ok = setup({ interval: 3, name: 'x' });
    expect((await run(ConfigCharm, 'hooks/update-status', { dir: charmDir(), backend: ok })).code).toBe(0);
    expect(loaded).toEqual([{ hours: 3 }]);
  });

  it('lets any other error fail the hook, without a status', async () => {
    const backend = setup({ interval: 6, name: 'boom' });
    const r = await run(ConfigCharm, 'hooks/config-changed', { dir: charmDir(), backend, expectUncaughtError: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TypeError: parser bug/);
    expect(backend.statusSets()).toEqual([]);
  });

  it('does not set the same blocked status again in the next hook', async () => {
    const dir = charmDir();
    const backend = setup({ interval: 0, name: 'x' });
    await run(ConfigCharm, 'hooks/config-changed', { dir, backend });
    backend.clear();
    expect((await run(ConfigCharm, 'hooks/config-changed', { dir, backend })).code).toBe(0);
    expect(backend.statusSets()).toEqual([]);
  });
});

/** Statuses each observer adds, by handle. */
let adds: Record<string, Status[]> = {};
let collected = 0;

class Workload extends FrameworkObject {
  constructor(parent: CharmBase) {
    super(parent, 'workload');
    this.framework.observe('collect_unit_status', this, this.onCollect);
  }
  onCollect(event: CollectStatusEvent): void {
    for (const s of adds[this.handle] ?? []) event.addStatus(s);
  }
}

class StatusCharm extends CharmBase<string, ConfigShape> {
  constructor(framework: Framework) {
    super(framework);
    new Workload(this);
    framework.observe('collect_unit_status', this, this.onCollect);
    framework.observe('install', this, this.onInstall);
    framework.observe('config_changed', this, this.onConfig);
    framework.observe('ping', this, this.onPing);
  }
  static readonly customEvents = { ping: {} };
  onCollect(event: CollectStatusEvent): void {
    collected++;
    for (const s of adds[this.handle] ?? []) event.addStatus(s);
  }
  /** Installing: maintenance now (the operator sees it during the long step), the final one at the end. */
  onInstall(): void {
    this.model.unit.setStatus(MaintenanceStatus('installing packages'));
    backendRef.mark('apt-get install');
  }
  async onConfig(event: HookEvent): Promise<void> {
    await this.framework.emitCustom('ping');
    if (this.model.config().defer) event.defer();
    if (this.model.config().fail) throw new Error('handler failed');
  }
  onPing(): void {}
}

class DeferCollect extends CharmBase {
  constructor(framework: Framework) {
    super(framework);
    framework.observe('collect_unit_status', this, (e) => e.defer(), { key: 'deferIt' });
  }
}

describe('collect-status', () => {
  const setup = (a: Record<string, Status[]>, config: Record<string, unknown> = {}) => {
    adds = a;
    collected = 0;
    backendRef = new RecordingBackend(config);
    return backendRef;
  };

  it('sets the highest-priority status the observers added, once: blocked > maintenance > waiting > active', async () => {
    const backend = setup({
      StatusCharm: [ActiveStatus('serving'), WaitingStatus('waiting for the cloud')],
      'StatusCharm/workload': [MaintenanceStatus('rebuilding'), ActiveStatus('fine')],
    });
    expect((await run(StatusCharm, 'hooks/config-changed', { dir: charmDir(), backend })).code).toBe(0);
    expect(backend.statusSets()).toEqual([{ status: 'maintenance', message: 'rebuilding' }]);

    const blocked = setup({ StatusCharm: [ActiveStatus('serving')], 'StatusCharm/workload': [BlockedStatus('set interval'), MaintenanceStatus('m')] });
    await run(StatusCharm, 'hooks/config-changed', { dir: charmDir(), backend: blocked });
    expect(blocked.statusSets()).toEqual([{ status: 'blocked', message: 'set interval' }]);
  });

  it('keeps the first added of equal priority (observers run in the order they observed)', async () => {
    // The workload component observes in the charm's constructor before the charm does.
    const backend = setup({ StatusCharm: [WaitingStatus('added second')], 'StatusCharm/workload': [WaitingStatus('added first')] });
    await run(StatusCharm, 'hooks/config-changed', { dir: charmDir(), backend });
    expect(backend.statusSets()).toEqual([{ status: 'waiting', message: 'added first' }]);
  });

  it('emits collect_unit_status once per dispatch, after deferred events, the event and custom events', async () => {
    const dir = charmDir();
    const backend = setup({ StatusCharm: [ActiveStatus('ok')] }, { defer: true });
    await run(StatusCharm, 'hooks/config-changed', { dir, backend });
    expect(collected).toBe(1);
    collected = 0;
    // The deferred config_changed is re-emitted (and emits ping again), then config_changed itself.
    await run(StatusCharm, 'hooks/config-changed', { dir, backend });
    expect(collected).toBe(1);
  });

  it('runs on every dispatch, also when the event itself has no observer', async () => {
    const backend = setup({ StatusCharm: [ActiveStatus('ok')] });
    expect((await run(StatusCharm, 'hooks/update-status', { dir: charmDir(), backend })).code).toBe(0);
    expect(collected).toBe(1);
    expect(backend.statusSets()).toEqual([{ status: 'active', message: 'ok' }]);
  });

  it('makes no status-set call when the status is what the unit last set', async () => {
    const dir = charmDir();
    const backend = setup({ StatusCharm: [ActiveStatus('ok')] });
    await run(StatusCharm, 'hooks/update-status', { dir, backend });
    backend.clear();
    await run(StatusCharm, 'hooks/update-status', { dir, backend });
    expect(backend.statusSets()).toEqual([]);
  });

  it('leaves a status set directly mid-hook in effect when it is set (maintenance while installing)', async () => {
    const backend = setup({ StatusCharm: [ActiveStatus('installed')] });
    await run(StatusCharm, 'hooks/install', { dir: charmDir(), backend });
    expect(backend.calls.filter((c) => c.op === 'status-set' || c.op === 'mark').map((c) => [c.op, ...c.args.slice(0, 2)])).toEqual([
      ['status-set', 'maintenance', 'installing packages'],
      ['mark', 'apt-get install'],
      ['status-set', 'active', 'installed'],
    ]);
  });

  it('sets nothing when nobody added a status', async () => {
    const backend = setup({});
    await run(StatusCharm, 'hooks/config-changed', { dir: charmDir(), backend });
    expect(collected).toBe(1);
    expect(backend.statusSets()).toEqual([]);
  });

  it('does not collect when the dispatch fails', async () => {
    const backend = setup({ StatusCharm: [ActiveStatus('ok')] }, { fail: true });
    expect((await run(StatusCharm, 'hooks/config-changed', { dir: charmDir(), backend, expectUncaughtError: true })).code).toBe(1);
    expect(collected).toBe(0);
    expect(backend.statusSets()).toEqual([]);
  });

  it('cannot be deferred', async () => {
    const backend = setup({});
    const r = await run(DeferCollect, 'hooks/update-status', { dir: charmDir(), backend, expectUncaughtError: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the collect_unit_status event cannot be deferred/);
  });

  it('is not an event Juju can dispatch', async () => {
    const backend = setup({ StatusCharm: [ActiveStatus('ok')] });
    expect((await run(StatusCharm, 'hooks/collect_unit_status', { dir: charmDir(), backend })).code).toBe(0);
    expect(collected).toBe(1);
  });
});
