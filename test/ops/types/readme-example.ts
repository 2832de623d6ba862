/* eslint-disable @typescript-eslint/no-unused-vars -- the example shows handler signatures as a charm writes them */
// The README's framework example ("The framework"), compiled by `npm run typecheck` (nothing
// runs it): test/ops/readme-example.test.ts checks that the README shows exactly the text
// between the markers, with the import paths a charm in src/ would use.
declare function installPackages(): Promise<void>;
// README example begins
import { ActiveStatus, CharmBase, ConfigInvalid, FrameworkObject, MaintenanceStatus, main,
  type ActionEvent, type CollectStatusEvent, type Framework, type HookEvent, type RelationEvent } from '../../../src/ops/index.js';
import type { CharmConfigOptions, CharmEventName } from '../../../src/charm/generated/charm-types.js';

const customEvents = { build_success: { env: ['OPENSTACK_IMAGE_ID'] } };
type Events = CharmEventName<keyof typeof customEvents>;    // Juju's events for this charm + its own

class Publisher extends FrameworkObject<Events, CharmConfigOptions> {   // handle: MyCharm/publisher
  constructor(charm: MyCharm) {
    super(charm, 'publisher');
    this.framework.observe('image_relation_joined', this, this.onJoined);
  }
  onJoined(e: RelationEvent): void {
    e.relation.updateLocalUnitData({ id: 'x' });
  }
}

class MyCharm extends CharmBase<Events, CharmConfigOptions> {          // handle: MyCharm
  static readonly customEvents = customEvents;
  constructor(framework: Framework<Events, CharmConfigOptions>) {
    super(framework);
    new Publisher(this);
    framework.observe('config_changed', this, this.onConfig);           // key MyCharm/onConfig
    framework.observe('get_latest_action', this, this.onGetLatest);
    framework.observe('collect_unit_status', this, this.onCollectStatus);
    // framework.observe('config_chnaged', ...) and cfg['intervall'] do not compile
  }
  async onConfig(e: HookEvent): Promise<void> {
    const cfg = this.loadConfig((c) => {                                 // c: Readonly<CharmConfigOptions>
      if (c.interval < 1) throw new ConfigInvalid('interval must be at least 1; use 1 to 24');
      return { hours: c.interval };
    });
    if (!cfg) return;                                                    // blocked with that message
    this.model.unit.setStatus(MaintenanceStatus('installing'));          // shown at once
    this.log.info('installing packages');
    this.framework.flushLogs();                                          // in juju-log before the long step
    await installPackages();
  }
  onGetLatest(e: ActionEvent): void {
    e.setResults({ id: 'x' });
  }
  onCollectStatus(e: CollectStatusEvent): void {
    e.addStatus(ActiveStatus('ready'));                                  // highest priority wins, set once
  }
}
await main(MyCharm);
// README example ends
