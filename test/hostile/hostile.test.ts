// Hostile input and faults (issue 7): bad configuration, failing host programs and clouds,
// SIGKILLed hooks, racing builds; nothing lost, nothing leaked, every failure explained. The
// charm runs as Juju runs it: the packed-style charm dir's `dispatch` as a subprocess. Ends
// with one summary line computed from what the cases observed (see tally.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { registerBadConfigs } from './bad-config.js';
import { registerConcurrency } from './concurrency.js';
import { registerCrashPoints } from './crash.js';
import { registerFaults } from './faults.js';
import { registerSecretLeaks } from './secrets.js';
import { cleanupAll } from './support.js';
import { summaryLine, tally } from './tally.js';

afterAll(async () => {
  await cleanupAll();
  process.stdout.write(`\nhostile suite: ${summaryLine()}\n`);
});

describe.concurrent('hostile', () => {
  // The long ones first, so the short ones fill the remaining slots around them.
  registerBadConfigs();
  registerConcurrency();
  registerFaults();
  registerCrashPoints();
  registerSecretLeaks();
});

describe('hostile suite summary', () => {
  it('saw no crash, no changed file and no leak', () => {
    expect(tally.crashes).toEqual([]);
    expect(tally.changedFiles).toEqual([]);
    expect(tally.leaks).toEqual([]);
    expect(tally.badInputs).toBeGreaterThanOrEqual(40);
  });
});
