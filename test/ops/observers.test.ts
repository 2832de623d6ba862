// Observers are identified by owner handle and method (ops' handle paths), so a deferred event
// is re-emitted to the observer that deferred it, even when another component has a method of
// the same name. Notices written by the framework before keys had owners (a bare method name)
// still reach their observer when that is unambiguous, and are dropped with a warning otherwise.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CharmBase, FrameworkObject, type Framework, type HookEvent } from '../../src/ops/index.js';
import { charmDir, cleanupCharmDirs, RecordingBackend, run } from './harness.js';

let seen: string[] = [];
let deferring = new Set<string>();
beforeEach(() => {
  seen = [];
  deferring = new Set();
});
afterEach(cleanupCharmDirs);

/** A component with the same method name as its siblings. */
class Part extends FrameworkObject {
  constructor(parent: CharmBase, key: string) {
    super(parent, key);
    this.framework.observe('config_changed', this, this.onConfig);
  }
  onConfig(event: HookEvent): void {
    seen.push(this.handle);
    if (deferring.has(this.handle)) event.defer();
  }
}

class TwoParts extends CharmBase {
  constructor(framework: Framework) {
    super(framework);
    new Part(this, 'first');
    new Part(this, 'second');
  }
}

class OnePart extends CharmBase {
  constructor(framework: Framework) {
    super(framework);
    new Part(this, 'solo');
  }
}

class NoObserver extends CharmBase {}

const stateFile = (dir: string) => path.join(dir, '.unit-state.json');
const notices = (dir: string): { event: string; observer: string }[] =>
  JSON.parse(readFileSync(stateFile(dir), 'utf8')).deferred.map((n: { event: string; observer: string }) => ({ event: n.event, observer: n.observer }));

describe('observers keyed by owner and method', () => {
  it('re-emits a deferred event to the component that deferred it, not to a sibling with the same method name', async () => {
    const dir = charmDir();
    const backend = new RecordingBackend();
    deferring.add('TwoParts/second');
    expect((await run(TwoParts, 'hooks/config-changed', { dir, backend })).code).toBe(0);
    expect(seen).toEqual(['TwoParts/first', 'TwoParts/second']);
    expect(notices(dir)).toEqual([{ event: 'config_changed', observer: 'TwoParts/second/onConfig' }]);

    // Still deferring: only the second component sees the re-emitted event, again and again.
    seen = [];
    expect((await run(TwoParts, 'hooks/update-status', { dir, backend })).code).toBe(0);
    expect(seen).toEqual(['TwoParts/second']);
    expect(notices(dir)).toEqual([{ event: 'config_changed', observer: 'TwoParts/second/onConfig' }]);

    // Done deferring: the second component handles it once more and the notice is gone.
    seen = [];
    deferring.clear();
    expect((await run(TwoParts, 'hooks/update-status', { dir, backend })).code).toBe(0);
    expect(seen).toEqual(['TwoParts/second']);
    expect(notices(dir)).toEqual([]);
  });

  it('refuses a second observer with the same key for an event, at observe time', async () => {
    class Twice extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('install', this, this.onInstall);
        framework.observe('install', this, this.onInstall);
      }
      onInstall(): void {}
    }
    const backend = new RecordingBackend();
    const r = await run(Twice, 'hooks/install', { dir: charmDir(), backend, expectUncaughtError: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ModelError: Twice\/onInstall already observes install/);
  });

  it('refuses two components with the same handle', async () => {
    class Clash extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        new Part(this, 'same');
        new Part(this, 'same');
      }
    }
    const r = await run(Clash, 'hooks/install', { dir: charmDir(), backend: new RecordingBackend(), expectUncaughtError: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/two objects have the handle "Clash\/same"/);
  });

  it('makes the deprecated observe(event, handler) form an error rather than a misrouted deferral', async () => {
    class Legacy extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        const part = { onConfig(): void {} };
        framework.observe('config_changed', this.onConfig.bind(this));
        framework.observe('config_changed', part.onConfig.bind(part));
      }
      onConfig(): void {}
    }
    const r = await run(Legacy, 'hooks/config-changed', { dir: charmDir(), backend: new RecordingBackend(), expectUncaughtError: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Legacy\/onConfig already observes config_changed/);
  });

  it('keys the deprecated form by the charm handle and function name', async () => {
    class Legacy extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('config_changed', this.onConfig.bind(this));
      }
      onConfig(event: HookEvent): void {
        event.defer();
      }
    }
    const dir = charmDir();
    expect((await run(Legacy, 'hooks/config-changed', { dir, backend: new RecordingBackend() })).code).toBe(0);
    expect(notices(dir)).toEqual([{ event: 'config_changed', observer: 'Legacy/onConfig' }]);
  });

  it('needs a key for a method without a name, and uses it', async () => {
    class Arrow extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('config_changed', this, (e) => e.defer(), { key: 'deferIt' });
      }
    }
    class NoKey extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('config_changed', this, (e) => e.defer());
      }
    }
    const dir = charmDir();
    expect((await run(Arrow, 'hooks/config-changed', { dir, backend: new RecordingBackend() })).code).toBe(0);
    expect(notices(dir)).toEqual([{ event: 'config_changed', observer: 'Arrow/deferIt' }]);
    const r = await run(NoKey, 'hooks/config-changed', { dir: charmDir(), backend: new RecordingBackend(), expectUncaughtError: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the method has no name; give one with \{ key \}/);
  });

  it('calls the method with the owner as this', async () => {
    class Owned extends CharmBase {
      private readonly tag = 'owned';
      constructor(framework: Framework) {
        super(framework);
        framework.observe('install', this, this.onInstall);
      }
      onInstall(): void {
        seen.push(`${this.tag}:${this.handle}`);
      }
    }
    expect((await run(Owned, 'hooks/install', { dir: charmDir(), backend: new RecordingBackend() })).code).toBe(0);
    expect(seen).toEqual(['owned:Owned']);
  });

  it('refuses to observe an event the charm does not have', async () => {
    class Typo extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('config_chnaged', this, this.onConfig);
      }
      onConfig(): void {}
    }
    const r = await run(Typo, 'hooks/install', { dir: charmDir(), backend: new RecordingBackend(), expectUncaughtError: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot observe unknown event "config_chnaged"/);
  });
});

describe('notices written before observers had owners (observer = bare method name)', () => {
  const seed = (dir: string, observer: string) =>
    writeFileSync(
      stateFile(dir),
      JSON.stringify({ version: 1, nextSeq: 2, deferred: [{ seq: 1, event: 'config_changed', observer, snapshot: {} }], stored: {} }),
      { mode: 0o600 },
    );

  it('are re-emitted to the one observer with that method name, and kept under its new key if deferred again', async () => {
    const dir = charmDir();
    seed(dir, 'onConfig');
    deferring.add('OnePart/solo');
    expect((await run(OnePart, 'hooks/update-status', { dir, backend: new RecordingBackend() })).code).toBe(0);
    expect(seen).toEqual(['OnePart/solo']);
    expect(notices(dir)).toEqual([{ event: 'config_changed', observer: 'OnePart/solo/onConfig' }]);

    seen = [];
    deferring.clear();
    expect((await run(OnePart, 'hooks/update-status', { dir, backend: new RecordingBackend() })).code).toBe(0);
    expect(seen).toEqual(['OnePart/solo']);
    expect(notices(dir)).toEqual([]);
  });

  it('are dropped with a warning when several observers have that method name', async () => {
    const dir = charmDir();
    seed(dir, 'onConfig');
    const backend = new RecordingBackend();
    expect((await run(TwoParts, 'hooks/update-status', { dir, backend })).code).toBe(0);
    expect(seen).toEqual([]);
    expect(notices(dir)).toEqual([]);
    expect(backend.logs().filter((l) => l.level === 'WARNING').map((l) => l.message)).toEqual([
      'dropping deferred event config_changed: it was deferred by "onConfig" (a notice written before observers had owner handles) and it is ambiguous between TwoParts/first/onConfig, TwoParts/second/onConfig',
    ]);
  });

  it('are dropped with a warning when no observer has that method name', async () => {
    const dir = charmDir();
    seed(dir, 'onConfig');
    const backend = new RecordingBackend();
    expect((await run(NoObserver, 'hooks/update-status', { dir, backend })).code).toBe(0);
    expect(notices(dir)).toEqual([]);
    expect(backend.logs().find((l) => l.level === 'WARNING')?.message).toMatch(/deferred by "onConfig" .* no observer has that method name/);
  });

  it('a notice for an observer key that no longer exists is dropped with a warning', async () => {
    const dir = charmDir();
    seed(dir, 'OnePart/renamed/onConfig');
    const backend = new RecordingBackend();
    expect((await run(OnePart, 'hooks/update-status', { dir, backend })).code).toBe(0);
    expect(seen).toEqual([]);
    expect(backend.logs().find((l) => l.level === 'WARNING')?.message).toBe('dropping deferred event config_changed: no observer OnePart/renamed/onConfig');
  });
});
