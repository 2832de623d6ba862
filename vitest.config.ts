import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The OpenStack suite needs real Keystone + Glance; it runs through `npm run test:openstack`.
    exclude: ['node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most suites wait on subprocesses (hooks, builds, Keystone): three files at once keep two
    // cores busy (vitest's default on 2 cores is one).
    maxWorkers: 3,
  },
});
