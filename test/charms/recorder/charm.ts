// A charm that records each event it sees in stored state, for the framework's tests.
import { ActiveStatus, CharmBase, type ActionEvent, type CustomEvent, type EventBase, type Framework, type RelationEvent } from '../../../src/ops/index.js';
import type { StoredState } from '../../../src/ops/framework.js';

type Seen = { seen: string[]; configCount: number };

export class RecorderCharm extends CharmBase {
  static readonly customEvents = { ping: { env: ['PING_DATA'] } };
  private readonly stored: StoredState<Seen>;

  constructor(framework: Framework) {
    super(framework);
    this.stored = framework.storedState<Seen>('recorder', { seen: [], configCount: 0 });
    for (const name of ['install', 'start', 'stop', 'remove', 'upgrade_charm', 'update_status', 'leader_elected'] as const) {
      framework.observe(name, this, this.onLifecycle);
    }
    framework.observe('config_changed', this, this.onConfigChanged);
    for (const phase of ['created', 'joined', 'changed', 'departed', 'broken'] as const) {
      framework.observe(`db_relation_${phase}`, this, this.onDb);
    }
    framework.observe('ping', this, this.onPing);
    framework.observe('set_results_action', this, this.onSetResults);
    framework.observe('fail_action', this, this.onFail);
    framework.observe('try_defer_action', this, this.onTryDefer);
  }

  private record(entry: string, event: EventBase): void {
    this.stored.set({ seen: [...this.stored.data.seen, entry] });
    if (this.model.config<{ 'fail-on': string }>()['fail-on'] === event.name) {
      event.defer();
      throw new Error(`handler asked to fail on ${event.name}`);
    }
  }

  async onLifecycle(event: EventBase): Promise<void> {
    this.record(event.name, event);
    if (event.name === 'install') {
      await this.framework.emitCustom('ping', { PING_DATA: 'from-install' });
      this.stored.set({ seen: [...this.stored.data.seen, 'install-after-ping'] });
    }
  }

  onConfigChanged(event: EventBase): void {
    const cfg = this.model.config<{ greeting: string; count: number; 'defer-config-changed': boolean }>();
    this.stored.set({ configCount: this.stored.data.configCount + 1 });
    this.model.unit.setStatus(ActiveStatus(`greeting ${cfg.greeting}`));
    this.record(`config_changed:${cfg.greeting}:${cfg.count}`, event);
    if (cfg['defer-config-changed']) event.defer();
  }

  onDb(event: RelationEvent): void {
    this.record(`${event.name}:${event.relation.ref}:${event.app}:${event.unit ?? '-'}:${event.departingUnit ?? '-'}`, event);
    if (event.phase === 'joined') {
      const remote = event.unit ? event.relation.remoteUnitData(event.unit) : {};
      event.relation.updateLocalUnitData({ seen: 'yes', 'remote-said': remote.hello ?? '' });
    }
  }

  onPing(event: CustomEvent): void {
    this.record(`ping:${event.data.PING_DATA ?? ''}`, event);
  }

  onSetResults(event: ActionEvent): void {
    event.log('setting results');
    event.setResults(JSON.parse(String(event.params.results ?? '{}')));
  }

  onFail(event: ActionEvent): void {
    event.fail(String(event.params.message ?? 'failed'));
  }

  onTryDefer(event: ActionEvent): void {
    event.defer();
  }
}
