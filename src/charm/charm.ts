// The github-runner-image-builder charm: components wired on one page. Each component owns its
// handlers and its stored state (src/charm/components/); this class builds them in order of
// need, migrates the unit state of the single-class charm, and collects the unit's status.
// Its host and cloud are given to it (the real ones by default), so the in-memory harness drives
// this very class.
import { CharmBase, type CollectStatusEvent } from '../ops/index.js';
import type { CharmConfigOptions } from './generated/charm-types.js';
import { buildPhase, runningBuild, skippedRuns } from './builder.js';
import { Actions } from './components/actions.js';
import { BuildCloud } from './components/build-cloud.js';
import { Builds } from './components/builds.js';
import { CUSTOM_EVENTS, type CharmFramework, type Events } from './components/component.js';
import { Consumers } from './components/consumers.js';
import { GoneImages } from './components/gone-images.js';
import { HostSetup } from './components/host-setup.js';
import { ImageRelation } from './components/image-relation.js';
import { Machine, REAL_DEPS, type CharmDeps } from './components/machine.js';
import { migrateSingleClassState } from './components/migrate.js';
import { Observability } from './components/observability.js';
import { Peers } from './components/peers.js';
import { ServedImages } from './components/served-images.js';
import { Settings } from './components/settings.js';
import { unitStatus } from './status.js';

export { REAL_DEPS, type CharmDeps } from './components/machine.js';
export { IMAGE_ENDPOINT } from './components/image-relation.js';
export { PEER_ENDPOINT } from './components/peers.js';
export { COS_AGENT_ENDPOINT } from './components/observability.js';

export class ImageBuilderCharm extends CharmBase<Events, CharmConfigOptions> {
  static readonly customEvents = CUSTOM_EVENTS;
  private readonly machine: Machine;
  private readonly settings: Settings;
  private readonly images: ServedImages;
  private readonly builds: Builds;
  private readonly peers: Peers;
  private readonly observability: Observability;
  private readonly hostSetup: HostSetup;
  private readonly consumers: Consumers;
  private readonly goneImages: GoneImages;

  constructor(framework: CharmFramework, deps: CharmDeps = REAL_DEPS) {
    super(framework);
    migrateSingleClassState(framework);
    this.machine = new Machine(framework, deps);
    this.settings = new Settings(this);
    this.images = new ServedImages(this);
    const buildCloud = new BuildCloud(this.model.appName, this.images, this.settings, this.machine);
    this.consumers = new Consumers(this, this.images, buildCloud, this.settings, this.machine);
    const relation = new ImageRelation(this, this.images, this.settings, this.machine, this.consumers);
    this.peers = new Peers(this, this.images, buildCloud, this.machine);
    this.builds = new Builds(this, this.images, relation, buildCloud, this.consumers);
    this.goneImages = new GoneImages(this, this.images, buildCloud, this.consumers, this.machine);
    this.observability = new Observability(this, this.images, this.machine);
    this.hostSetup = new HostSetup(this, this.settings, this.images, relation, this.observability, this.machine);
    new Actions(this, this.settings, this.peers, this.consumers, this.machine);
    framework.observe('collect_unit_status', this, this.onCollectStatus);
  }

  /** The status, from what the components know, once at the end of every dispatch. */
  onCollectStatus(event: CollectStatusEvent): void {
    const host = this.machine.host;
    const leader = this.model.unit.isLeader();
    const stopped = this.hostSetup.stopped;
    const { configProblem, cloudWarnings } = this.settings.stored.data;
    this.observability.shareMetricsState(leader, stopped);
    event.addStatus(
      unitStatus({
        configProblem,
        stopped,
        image: this.images.served(),
        standingBy: leader ? undefined : { leader: this.peers.knownLeader },
        lastFailure: this.builds.lastFailure,
        cloudWarnings: [...(cloudWarnings ?? []), ...(this.observability.portProblem ? [this.observability.portProblem] : []), ...this.consumers.statusNotes(), ...this.goneImages.statusNotes()],
        setupOwed: this.hostSetup.setupOwed,
        running: runningBuild(host),
        phase: buildPhase(host),
        skippedRuns: skippedRuns(host),
        now: new Date(),
      }),
    );
  }
}
