// Compile-time checks (npm run typecheck; nothing runs this file). A charm typed with the
// generated names of src/charm/generated/charm-types.ts: a misspelt event or config option is a
// type error, so each `@ts-expect-error` below must keep finding one, or tsc fails.
import {
  ActiveStatus,
  CharmBase,
  ConfigInvalid,
  FrameworkObject,
  dispatch,
  main,
  type ActionEvent,
  type CollectStatusEvent,
  type CustomEvent,
  type Framework,
  type HookEvent,
  type RelationEvent,
  type SecretChangedEvent,
  type SecretRemoveEvent,
} from '../../../src/ops/index.js';
import { Context } from '../../../src/ops/testing/index.js';
import type { CharmConfigOptions, CharmEventName } from '../../../src/charm/generated/charm-types.js';

const customEvents = {
  build_success: { env: ['OPENSTACK_IMAGE_ID'] },
  build_failed: { env: ['BUILD_EXIT_CODE'] },
};
type Events = CharmEventName<keyof typeof customEvents>;

class Publisher extends FrameworkObject<Events, CharmConfigOptions> {
  constructor(parent: TypedCharm) {
    super(parent, 'publisher');
    this.framework.observe('config_changed', this, this.onConfig);
    this.framework.observe('build_success', this, this.onBuilt);
  }
  onConfig(_event: HookEvent): void {}
  onBuilt(event: CustomEvent): void {
    void event.data.OPENSTACK_IMAGE_ID;
  }
}

class TypedCharm extends CharmBase<Events, CharmConfigOptions> {
  static readonly customEvents = customEvents;

  constructor(framework: Framework<Events, CharmConfigOptions>) {
    super(framework);
    new Publisher(this);
    framework.observe('config_changed', this, this.onConfig);
    framework.observe('image_relation_joined', this, this.onJoined);
    framework.observe('get_latest_action', this, (e) => e.setResults({ id: 'x' }), { key: 'getLatest' });
    framework.observe('collect_unit_status', this, this.onCollect);
    framework.observe('build_failed', this, this.onFailed);
    // Secret events: every charm may observe them; each has its class.
    framework.observe('secret_changed', this, this.onSecretChanged);
    framework.observe('secret_remove', this, this.onSecretRemove);

    // @ts-expect-error a misspelt event name
    framework.observe('config_chnaged', this, this.onConfig);
    // @ts-expect-error an action that actions.yaml does not declare
    framework.observe('get_lastest_action', this, this.onAction);
    // @ts-expect-error a relation event of an endpoint that metadata.yaml does not declare
    framework.observe('images_relation_joined', this, this.onJoined);
    // @ts-expect-error a custom event the charm does not declare
    framework.observe('build_succeeded', this, this.onFailed);
    // @ts-expect-error the deprecated form is checked the same way
    framework.observe('config_chnaged', this.onConfig.bind(this));
    // @ts-expect-error a handler for another kind of event (an action's, on a hook)
    framework.observe('install', this, this.onAction);
    // @ts-expect-error a secret event's handler typed for a relation event
    framework.observe('secret_changed', this, this.onJoined);
    // @ts-expect-error a misspelt secret event
    framework.observe('secret_chanegd', this, this.onSecretChanged);
    // @ts-expect-error emitting an undeclared custom event
    void framework.emitCustom('build_succeeded');
  }

  onConfig(_event: HookEvent): void {
    const cfg = this.model.config();
    const interval: number = cfg.interval;
    const base: string = cfg['base-image'];
    // @ts-expect-error a misspelt config option
    void cfg['base-imag'];
    // @ts-expect-error a misspelt config option, with the generated type given explicitly
    void this.model.config<CharmConfigOptions>().intreval;
    // @ts-expect-error an int option is a number, not a string
    const wrong: string = cfg.interval;
    void [interval, base, wrong];

    const parsed = this.loadConfig((c) => {
      if (c.interval < 1) throw new ConfigInvalid('interval must be at least 1');
      return { hours: c.interval };
    });
    const hours: number | undefined = parsed?.hours;
    void hours;
    const later: Promise<{ base: string } | undefined> = this.loadConfig(async (c) => ({ base: c['base-image'] }));
    void later;
  }
  onJoined(event: RelationEvent): void {
    event.relation.updateLocalUnitData({ id: 'x' });
  }
  onAction(event: ActionEvent): void {
    event.setResults({ ok: true });
  }
  onCollect(event: CollectStatusEvent): void {
    event.addStatus(ActiveStatus());
  }
  onFailed(_event: CustomEvent): void {}
  onSecretChanged(event: SecretChangedEvent): void {
    const content: Record<string, string> = event.secret.getContent({ refresh: true });
    void content;
  }
  onSecretRemove(event: SecretRemoveEvent): void {
    const revision: number = event.revision;
    // @ts-expect-error secret-changed carries no revision
    void (event as SecretChangedEvent).revision;
    void revision;
  }
}

// A typed charm is a CharmClass: main, dispatch and the testing Context take it.
export const run = () => main(TypedCharm);
export const run2 = (env: Record<string, string>) => dispatch({ charm: TypedCharm, env });
export const ctx = (meta: ConstructorParameters<typeof Context>[1]) => new Context(TypedCharm, meta);

