// The exporter's metrics, from the state files (./state.ts) at one instant.
import { renderFamilies, type Family, type Labels, type Sample } from './exposition.js';
import type { BuildField, CopyField, State } from './state.js';

const PREFIX = 'github_runner_image_builder';

/** name (without the prefix), type, help, and the build file field it comes from. */
const BUILD_METRICS: readonly { name: string; type: 'counter' | 'gauge'; help: string; field: BuildField }[] = [
  { name: 'builds_started_total', type: 'counter', field: 'started', help: 'Builds of the base started since the unit was installed.' },
  { name: 'builds_succeeded_total', type: 'counter', field: 'succeeded', help: 'Builds of the base that succeeded since the unit was installed.' },
  { name: 'builds_failed_total', type: 'counter', field: 'failed', help: 'Builds of the base that failed (or timed out) since the unit was installed.' },
  { name: 'consecutive_failures', type: 'gauge', field: 'consecutive_failures', help: 'Builds of the base that failed in a row since its last success.' },
  { name: 'last_build_duration_seconds', type: 'gauge', field: 'last_duration_seconds', help: 'How long the last finished build of the base took.' },
  { name: 'last_success_timestamp_seconds', type: 'gauge', field: 'last_success_timestamp', help: 'When the last successful build of the base ended (unix time; 0 if never).' },
];

/** Per consumer cloud (label `cloud`), from its copies file (the copier's) and its gone file (the charm's). */
const COPY_METRICS: readonly { name: string; type: 'counter' | 'gauge'; help: string; field: CopyField }[] = [
  { name: 'copies_succeeded_total', type: 'counter', field: 'succeeded', help: 'Image copies into the consumer cloud that succeeded (an identical image found there counts).' },
  { name: 'copies_failed_total', type: 'counter', field: 'failed', help: 'Image copies into the consumer cloud that failed (after their retries).' },
  { name: 'last_copy_duration_seconds', type: 'gauge', field: 'last_duration_seconds', help: 'How long the last copy into the consumer cloud took.' },
  { name: 'last_copy_bytes', type: 'gauge', field: 'last_bytes', help: 'Bytes the last copy into the consumer cloud moved (0 when an identical image was reused).' },
  { name: 'gone_images_replaced_total', type: 'counter', field: 'gone_replaced', help: 'Published images found gone from the consumer cloud and replaced.' },
];

/** The exposition text for this state at `now` (unix seconds). */
export function renderMetrics(state: State, now: number): string {
  const { unit } = state;
  const arch = unit.arch;
  const unitLabels: Labels = { arch };
  const baseLabels = (base: string): Labels => ({ base, arch });
  const families: Family[] = [];
  const family = (name: string, type: Family['type'], help: string, samples: Sample[]) => families.push({ name: `${PREFIX}_${name}`, type, help, samples });

  for (const m of BUILD_METRICS) {
    const samples: Sample[] = [];
    for (const base of state.bases) {
      const build = state.builds.get(base);
      // No build file yet: zero. An unreadable one: nothing (a zero would read as a counter reset).
      const value = build === undefined || build === 'missing' ? 0 : build === 'invalid' ? undefined : build[m.field];
      if (value !== undefined) samples.push({ labels: baseLabels(base), value });
    }
    family(m.name, m.type, m.help, samples);
  }

  const running = state.running;
  family(
    'build_running',
    'gauge',
    'Whether a build of the base is running (1) or not (0).',
    running === 'invalid' ? [] : state.bases.map((base) => ({ labels: baseLabels(base), value: base === running ? 1 : 0 })),
  );

  const ages: Sample[] = [];
  for (const base of state.bases) {
    const image = unit.images.get(base);
    // To the millisecond (created_at's precision), so no float noise like 3600.0000002.
    if (image) ages.push({ labels: baseLabels(base), value: Math.round((now - image.createdAt) * 1000) / 1000 });
  }
  family('image_age_seconds', 'gauge', 'Age of the newest image of the base served to the runners (now - its created_at).', ages);

  for (const m of COPY_METRICS) {
    const samples: Sample[] = [];
    for (const [cloud, stats] of state.copies) {
      // An unreadable file or field: nothing (a zero would read as a counter reset).
      const value = stats === 'invalid' ? undefined : stats[m.field];
      if (value !== undefined) samples.push({ labels: { cloud }, value });
    }
    family(m.name, m.type, m.help, samples);
  }

  const single = (v: number | undefined): Sample[] => (v === undefined ? [] : [{ labels: unitLabels, value: v }]);
  family('schedule_start_timestamp_seconds', 'gauge', 'When the build schedule started (unix time): builds run every interval from then.', single(unit.scheduleStart));
  family('interval_hours', 'gauge', 'Hours between scheduled builds (the build-interval option).', single(unit.intervalHours));
  family('leader', 'gauge', 'Whether this unit is the leader (1), the unit that builds, or not (0).', single(unit.leader === undefined ? undefined : unit.leader ? 1 : 0));
  family(
    'state_errors',
    'gauge',
    "State files the exporter could not read or that hold invalid values, at this scrape (the exporter's log says which and why).",
    [{ labels: {}, value: state.errors.length }],
  );
  return renderFamilies(families);
}
