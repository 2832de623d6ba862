// One table, two Juju simulations: every case of cases.ts runs against the in-memory backend
// and against the stand-in hook tools spawned for real in a hook context; both must give Juju's
// answers (the table's) and agree on everything else they record.
import { afterAll, describe, expect, it } from 'vitest';
import { hookcmds } from '../../src/ops/hookcmds.js';
import { CASES } from './cases.js';
import { allSteps, cleanupProcesses, runAsProcesses, runInMemory, type Observed, type Step } from './harness.js';

afterAll(cleanupProcesses);

function checkAnswers(side: string, steps: readonly Step[], seen: Observed): void {
  expect(seen.outputs, side).toHaveLength(steps.length);
  steps.forEach((step, i) => {
    const got = seen.outputs[i]!;
    const what = `${side}: ${[step.tool, ...step.args].join(' ')}`;
    expect(got.exitCode, `${what}: exit code (stderr ${JSON.stringify(got.stderr)})`).toBe(step.expect.exitCode);
    for (const stream of ['stdout', 'stderr'] as const) {
      const want = step.expect[stream];
      if (want instanceof RegExp) expect(got[stream], `${what}: ${stream}`).toMatch(want);
      else if (want !== undefined) expect(got[stream], `${what}: ${stream}`).toBe(want);
    }
  });
}

describe('the in-memory backend and the stand-in hook tools agree with Juju and with each other', () => {
  it('covers every tool the framework calls (src/ops/hookcmds.ts)', () => {
    const used = new Set(CASES.flatMap((c) => allSteps(c).map((s) => s.tool)));
    // every builder, with arguments of the right shape for all of them
    const framework = Object.values(hookcmds).map((make) => (make as (...a: unknown[]) => { tool: string })('x', {}, false).tool);
    expect(framework.length).toBeGreaterThanOrEqual(14);
    expect(framework.filter((t) => !used.has(t))).toEqual([]);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const memory = runInMemory(c);
      const processes = await runAsProcesses(c);
      checkAnswers('memory', allSteps(c), memory);
      checkAnswers('processes', allSteps(c), processes);
      if (c.after) {
        expect(memory, 'memory: after').toMatchObject(c.after);
        expect(processes, 'processes: after').toMatchObject(c.after);
      }
      expect(memory).toEqual(processes);
    });
  }
});
