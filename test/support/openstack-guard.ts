// The OpenStack tier's guard, apart from test/support/openstack.ts so that scripts (the benches,
// npm start) can load the suite's helpers without vitest, which only works inside its runner.
import { describe, it } from 'vitest';
import { HOW_TO_START, type OpenStackSuite } from './openstack.js';

/**
 * Call at the top level of a test file. When the services are up, returns true. When not: in
 * CI (process.env.CI set) registers a failing test saying the services are not running; on a
 * developer's machine warns on stderr and registers a skipped test whose name says the
 * OpenStack suite was NOT RUN. Returns false then.
 */
export function guardOpenStackSuite(suite: OpenStackSuite, what: string): boolean {
  if (suite.up) return true;
  if (process.env.CI) {
    describe(`OpenStack suite (${what})`, () => {
      it('needs Keystone + Glance running', () => {
        throw new Error(`OpenStack services are not running: ${suite.reason}`);
      });
    });
  } else {
    console.warn(`\n*** OpenStack suite NOT RUN (${what}): ${suite.reason}\n`);
    describe(`OpenStack suite (${what})`, () => {
      it.skip(`NOT RUN: Keystone + Glance are not running; ${HOW_TO_START}`, () => {});
    });
  }
  return false;
}
