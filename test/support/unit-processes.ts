// What a simulated unit still runs: hooks, builds, build reports through juju-exec, stand-in tools.
// Tests wait for them before they look at final state; SimUnit.cleanup() kills them before it
// removes the unit's dirs (a reported hook still committing its state would race the removal).
import { readdirSync, readFileSync } from 'node:fs';
import { eventually } from './eventually.js';
import type { SimUnit } from './juju.js';

/** Processes of this simulated unit (hooks, builds, stand-ins): their environment names its dirs. */
export function unitProcesses(u: SimUnit): number[] {
  const marks = [`FAKE_HOST_DIR=${u.hostDir}\0`, `FAKE_JUJU_DIR=${u.jujuDir}\0`];
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${name}/environ`, 'latin1');
      if (marks.some((m) => environ.includes(m))) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

export function waitIdle(u: SimUnit, timeoutMs?: number): Promise<true> {
  return eventually('the unit to be idle (no hook, build or stand-in running)', () => unitProcesses(u).length === 0, timeoutMs);
}

/** SIGKILLs whatever this unit still runs (processes these tests started, by pid). */
export function killUnitProcesses(u: SimUnit): void {
  for (const pid of unitProcesses(u)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
