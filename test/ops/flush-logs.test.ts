// Log records reach juju-log before a long step when the charm calls flushLogs, still batched
// (one juju-log call per run of equal level); a dispatch killed during the step loses only what
// was logged after the flush, and one stopped by SIGTERM loses nothing.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CharmBase, type Framework } from '../../src/ops/index.js';
import { buildCharmDir, copyCharmDir } from '../support/charm-dir.js';
import { eventually } from '../support/eventually.js';
import { createUnit, type SimUnit } from '../support/juju.js';
import { killUnitProcesses } from '../support/unit-processes.js';
import { charmDir, cleanupCharmDirs, RecordingBackend, run } from './harness.js';

let backendRef: RecordingBackend;

class Installer extends CharmBase {
  constructor(framework: Framework) {
    super(framework);
    framework.observe('install', this, this.onInstall);
  }
  onInstall(): void {
    this.log.info('installing packages');
    this.log.info('this may take a while');
    this.framework.flushLogs();
    backendRef.mark('apt-get install (long)');
    this.log.info('packages installed');
  }
}

describe('flushLogs in process', () => {
  afterEach(cleanupCharmDirs);

  it('sends what was logged before the long step, batched, and the rest at the end', async () => {
    backendRef = new RecordingBackend();
    expect((await run(Installer, 'hooks/install', { dir: charmDir(), backend: backendRef })).code).toBe(0);
    const order = backendRef.calls.filter((c) => c.op === 'juju-log' || c.op === 'mark').map((c) => (c.op === 'mark' ? 'MARK' : `${c.args[0]}: ${c.args[1]}`));
    expect(order).toEqual([
      'DEBUG: Emitting event install.',
      'INFO: installing packages\nthis may take a while',
      'MARK',
      'INFO: packages installed',
    ]);
  });
});

describe('flushLogs in a dispatch that is killed', () => {
  let built: string;
  const cleanups: (() => void)[] = [];
  beforeAll(async () => {
    const repo = path.resolve(import.meta.dirname, '../..');
    built = await buildCharmDir({ entry: 'test/ops/fixtures/flush-charm.ts', yamlDir: path.join(repo, 'test/charms/recorder') });
  });
  afterAll(() => {
    for (const c of cleanups) c();
    rmSync(built, { recursive: true, force: true });
  });
  function unit(): SimUnit {
    const dir = copyCharmDir(built);
    const u = createUnit({ charmDir: dir, config: {} });
    cleanups.push(() => {
      u.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    return u;
  }

  it('SIGKILL during the long step loses only what was logged after the flush', async () => {
    const u = unit();
    const dispatched = u.dispatch('install');
    // Killed once the flushed records reached juju-log: the charm is then in its long step.
    await eventually('the flushed records in juju-log', () => u.allLogs().some((l) => l.message.includes('before the long step')));
    killUnitProcesses(u);
    const r = await dispatched;
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGKILL');
    const messages = r.logs.map((l) => l.message).join('\n');
    expect(messages).toContain('before the long step');
    expect(messages).not.toContain('during the long step');
  });

  it('SIGTERM during the long step sends the rest, says so, and the hook still fails', async () => {
    const r = await unit().dispatch('install', { env: { FLUSH_TEST_MODE: 'sigterm' } });
    expect(r.code).not.toBe(0);
    const messages = r.logs.map((l) => `${l.level}: ${l.message}`);
    expect(messages.join('\n')).toContain('before the long step');
    expect(messages).toContain('INFO: during the long step, not flushed');
    expect(messages).toContain('ERROR: hooks/install interrupted by SIGTERM; Juju will see the hook fail');
    expect(messages.join('\n')).not.toContain('after the long step');
  });
});
