// The conformance suite's "charm": run as a simulated unit's dispatch, in a real hook context, it
// spawns each hook tool of $CONFORMANCE_STEPS the way the framework does (spawnSync, stdin given)
// and writes what each printed and exited with to $CONFORMANCE_OUT; then exits $CONFORMANCE_EXIT.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const steps = JSON.parse(readFileSync(process.env.CONFORMANCE_STEPS, 'utf8'));
const outputs = steps.map((s) => {
  const r = spawnSync(s.tool, s.args, { input: s.stdin, encoding: 'utf8' });
  if (r.error) return { stdout: '', stderr: `spawn failed: ${r.error.message}`, exitCode: null };
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.status };
});
writeFileSync(process.env.CONFORMANCE_OUT, JSON.stringify(outputs));
process.exitCode = Number(process.env.CONFORMANCE_EXIT ?? 0);
