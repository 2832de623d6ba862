// The test tiers, one vitest project each (README, "Develop and test"): `npm test` runs `unit`,
// `npm run test:process` `process`, `npm run test:pack` `pack`, `npm run test:openstack`
// `openstack`, `npm run test:all` every one. Every test file belongs to exactly one tier:
// scripts/check-tiers.mjs (run by `npm test`) fails on a file in none or in two, so a new
// directory of tests must be placed here.
import { configDefaults, defineConfig } from 'vitest/config';

/** Tests that run real processes: the real `dispatch` with stand-in hook tools, the exporter and Prometheus, `npm start`. */
const PROCESS = [
  'test/hostile/**/*.test.ts',
  'test/hardening/**/*.test.ts',
  'test/fakes-selftest/**/*.test.ts',
  'test/**/*-process.test.ts',
  'test/conformance/hook-tools.test.ts',
  'test/charm/lifecycle.test.ts',
  'test/charm/builder-app.test.ts',
  'test/charm/secrets.test.ts',
  'test/charm/topology.test.ts',
  'test/charm/observability.test.ts',
  'test/ops/flush-logs.test.ts',
  'test/exporter/prometheus.test.ts',
  'test/try.test.ts',
];

/** The packed artifact: builds the .charm and runs what is in it. */
const PACK = ['test/pack/**/*.test.ts'];

/** Against real Keystone + Glance on loopback (scripts/openstack/with-openstack.sh starts them). */
const OPENSTACK = ['test/openstack/**/*real-services.test.ts'];

/** In memory or in process (loopback servers, small scripts): the framework, the charm's handlers, the modules. */
const UNIT = ['test/*.test.ts', 'test/ops/**/*.test.ts', 'test/charm/**/*.test.ts', 'test/conformance/**/*.test.ts', 'test/cos/**/*.test.ts', 'test/exporter/**/*.test.ts', 'test/openstack/**/*.test.ts'];

export default defineConfig({
  test: {
    // Sized for a loaded machine (2 cores, other suites beside: a scenario through `dispatch`
    // runs ten times slower at a load of 20): a timeout is a hang, not slowness. The in-memory
    // tier keeps a shorter one (below), still above the helpers' own wait for a hang
    // (test/support/eventually.ts, HANG_MS), so theirs, which names what never came, is reported.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Most suites wait on subprocesses (hooks, builds, Keystone): three files at once keep two
    // cores busy (vitest's default on 2 cores is one).
    maxWorkers: 3,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, exclude: [...configDefaults.exclude, ...PROCESS, ...PACK, ...OPENSTACK], testTimeout: 360_000 } },
      { extends: true, test: { name: 'process', include: PROCESS } },
      // One file at a time: each packs the charm in its beforeAll (esbuild, xz of the runtime,
      // in spawnSync, so no timeout fires until it returns); side by side they only compete.
      { extends: true, test: { name: 'pack', include: PACK, fileParallelism: false } },
      { extends: true, test: { name: 'openstack', include: OPENSTACK } },
    ],
  },
});
