// The unit state of the single-class charm (one 'image-builder' bag of 16 fields) moves into the
// components' bags on the first hook after an upgrade. A field's new home is fixed here; its
// shape is checked by the component that loads it (stored.ts).
import type { Framework } from '../../ops/index.js';

const LEGACY_BAG = 'image-builder';

/** Which component's bag each field of the single-class charm's state belongs to. */
const NEW_HOME: Readonly<Record<string, string>> = {
  configProblem: 'settings',
  secretProblem: 'settings',
  cloudWarnings: 'settings',
  scheduleDigest: 'host-setup',
  applied: 'host-setup',
  stopped: 'host-setup',
  images: 'images',
  image: 'images',
  publishAs: 'images',
  lastFailure: 'builds',
  publishUnconfirmed: 'image-relation',
  leaderName: 'peers',
  intervalHours: 'observability',
  metricsPort: 'observability',
  scheduleStart: 'observability',
  cosAgentDigest: 'observability',
};

export function migrateSingleClassState(framework: Pick<Framework, 'storedState' | 'hasStoredState' | 'dropStoredState' | 'log'>): void {
  if (!framework.hasStoredState(LEGACY_BAG)) return;
  const legacy = framework.storedState<Record<string, unknown>>(LEGACY_BAG, {}).data;
  const moved: string[] = [];
  for (const [key, value] of Object.entries(legacy)) {
    const home = NEW_HOME[key];
    if (!home) continue; // a field no component reads any more
    framework.storedState<Record<string, unknown>>(home, {}).set({ [key]: value });
    moved.push(key);
  }
  framework.dropStoredState(LEGACY_BAG);
  framework.log.info(`unit state: moved ${moved.length ? moved.join(', ') : 'nothing'} from the single-class layout into the components' state`);
}
