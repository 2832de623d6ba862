// Shared set-up for the stand-ins' self-tests: a unit whose charm dir holds a tiny sh `dispatch`
// that dumps its environment, and a way to run any sh snippet in a hook context.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createUnit, runProcess, RUN_IN_CONTEXT, type CreateUnitOptions, type ExecResult, type SimUnit } from '../support/juju.js';

/** Writes `env` (NUL-separated, sorted) and the argv to <charm>/last-run/ and exits $EXIT_WITH. */
const DISPATCH = `#!/bin/sh
mkdir -p last-run
env -0 > last-run/env
printf '%s\\n' "$0" "$@" > last-run/argv
exit "\${EXIT_WITH:-0}"
`;

export interface TestUnit extends SimUnit {
  /** Runs `sh -c script` in a fresh context of this unit, with VAR=value / -u VAR arguments. */
  sh(script: string, assignments?: string[], input?: string): Promise<ExecResult>;
  /** The environment the last dispatch saw. */
  lastEnv(): Record<string, string>;
}

const made: { unit: SimUnit; charmDir: string }[] = [];

export function testUnit(opts: Partial<CreateUnitOptions> = {}): TestUnit {
  const charmDir = mkdtempSync(path.join(tmpdir(), 'selftest-charm-'));
  writeFileSync(path.join(charmDir, 'dispatch'), DISPATCH, { mode: 0o755 });
  const unit = createUnit({
    charmDir,
    config: { 'base-image': 'noble', interval: 6 },
    relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'], remoteUnits: { 'github-runner/0': { hello: 'remote' } } }],
    ...opts,
  }) as TestUnit;
  unit.sh = (script, assignments = [], input) =>
    runProcess(RUN_IN_CONTEXT, [...assignments, '--', 'sh', '-c', script], {
      env: { FAKE_JUJU_DIR: unit.jujuDir, PATH: '/usr/bin:/bin' },
      ...(input !== undefined ? { input } : {}),
      timeoutMs: 120_000,
    });
  unit.lastEnv = () => {
    const raw = readFileSync(path.join(charmDir, 'last-run/env'), 'utf8');
    return Object.fromEntries(
      raw
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  };
  made.push({ unit, charmDir });
  return unit;
}

export function cleanupUnits(): void {
  for (const { unit, charmDir } of made.splice(0)) {
    unit.cleanup();
    rmSync(charmDir, { recursive: true, force: true });
  }
}
