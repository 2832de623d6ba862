// The real ImageBuilderCharm in the in-memory harness (src/ops/testing): its host is a real Host
// over a temp root (real files, modes, atomic writes) whose programs are scripted here instead
// of run (apt, pipx, the builder, flock, systemctl...), and its cloud is an in-memory Glance.
// A hook runs in milliseconds; the process-level suites keep what needs real processes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ImageBuilderCharm, type CharmDeps } from '../../src/charm/charm.js';
import type { CloudAccess, CloudPort, ImageInfo, PublishedCheck } from '../../src/charm/cloud-port.js';
import { Host, type Detached, type Programs, type RunOptions, type RunResult } from '../../src/charm/host.js';
import { BUILD_RUNNING_PATH, BUILDER_BIN } from '../../src/charm/paths.js';
import { Context } from '../../src/ops/testing/index.js';
import { loadCharmMeta } from '../../src/ops/meta.js';
import { onTestFinished } from 'vitest';

export interface ProgramCall {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A scripted answer for a program; `argv` is without a `flock ... lock` prefix. */
export type Script = (argv: readonly string[]) => RunResult | undefined;

const ok = (stdout = ''): RunResult => ({ exitCode: 0, stdout, stderr: '' });

/**
 * Host programs as a script: records every call and answers as the real ones would on a
 * healthy Ubuntu machine. `fail(prefix, result)` makes calls starting with `prefix` answer
 * `result`; `lockHeld` and `buildSession` stand for a build holding the lock.
 */
export class ScriptedPrograms implements Programs {
  readonly calls: ProgramCall[] = [];
  /** Build scripts started (spawnDetached). */
  readonly builds: string[][] = [];
  lockHeld = false;
  installedPackages = new Set<string>();
  private readonly failures: [readonly string[], RunResult][] = [];

  constructor(private readonly root: string) {}

  fail(prefix: readonly string[], result: RunResult): void {
    this.failures.push([prefix, result]);
  }

  clearFailures(): void {
    this.failures.length = 0;
  }

  /** Calls by program name, with any flock prefix taken off. */
  called(program: string): ProgramCall[] {
    return this.calls.filter((c) => c.argv[0] === program);
  }

  async run(command: readonly [string, ...string[]], opts: RunOptions): Promise<RunResult> {
    // `flock -n -E 75 <lock> cmd...` runs cmd when no build holds the lock, else exits 75 (`true` as
    // cmd is a probe: is a build running?); `flock -w N <lock> cmd...` waits for it: unwrap both.
    const nonBlocking = command[0] === 'flock' && command[1] === '-n';
    if (nonBlocking && this.lockHeld) return { exitCode: 75, stdout: '', stderr: '' };
    const argv = command[0] === 'flock' ? command.slice(nonBlocking ? 5 : 4) : [...command];
    const probe = nonBlocking && argv.length === 1 && argv[0] === 'true';
    if (probe) return ok();
    this.calls.push({ argv, env: { ...opts.env } });
    const failure = this.failures.find(([prefix]) => prefix.every((p, i) => argv[i] === p));
    if (failure) return failure[1];
    const [prog, ...args] = argv;
    switch (path.basename(prog ?? '')) {
      case 'flock':
        return this.lockHeld ? { exitCode: 75, stdout: '', stderr: '' } : ok();
      case 'dpkg-query':
        return ok(args.slice(2).map((p) => (this.installedPackages.has(p) ? `${p} install ok installed\n` : '')).join(''));
      case 'apt-get':
        if (args[0] === 'install') for (const p of args.slice(3)) this.installedPackages.add(p);
        return ok();
      case 'pipx':
        if (args[0] === 'install') {
          const bin = opts.env?.PIPX_BIN_DIR ?? '';
          mkdirSync(bin, { recursive: true });
          writeFileSync(path.join(bin, 'github-runner-image-builder'), '#!/bin/sh\n', { mode: 0o755 });
        }
        return ok();
      case 'pgrep':
        return this.lockHeld ? ok('1234\n') : { exitCode: 1, stdout: '', stderr: '' };
      case 'pkill':
        this.lockHeld = false;
        return ok();
      default:
        return ok();
    }
  }

  spawnDetached(file: string, args: readonly string[]): Detached {
    this.builds.push([file, ...args]);
    const started = this.lockHeld;
    return { exitCode: () => (started ? 75 : 0), startError: () => undefined, release: () => undefined };
  }

  /** Whether the builder is where the charm runs it (pipx installed it). */
  builderPath(): string {
    return path.join(this.root, BUILDER_BIN);
  }
}

/** Glance in memory: images by name; `fail` makes every request throw it. */
export class MemoryCloud implements CloudPort {
  readonly images: (ImageInfo & { status: string; cloud?: string })[] = [];
  readonly asked: string[] = [];
  fail: Error | undefined;

  async findLatestImages(access: CloudAccess, names: readonly string[]): Promise<(ImageInfo | null)[]> {
    this.asked.push(`latest ${access.cloudName} ${names.join(' ')}`);
    if (this.fail) throw this.fail;
    return names.map((name) => this.latest(name, access));
  }

  private latest(name: string, access: CloudAccess): ImageInfo | null {
    const found = this.images.filter((i) => i.name === name && i.status === 'active' && this.inCloud(i, access)).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
    return found ? { id: found.id, name: found.name, createdAt: found.createdAt } : null;
  }

  async findImage(access: CloudAccess, id: string): Promise<(ImageInfo & { status: string }) | null> {
    this.asked.push(`image ${access.cloudName} ${id}`);
    if (this.fail) throw this.fail;
    return this.images.find((i) => i.id === id && this.inCloud(i, access)) ?? null;
  }

  async checkPublished(access: CloudAccess, images: readonly { id: string; name: string }[]): Promise<PublishedCheck[]> {
    this.asked.push(`check ${access.cloudName} ${images.map((i) => i.id).join(' ')}`);
    if (this.fail) throw this.fail;
    return images.map(({ id, name }) => {
      const found = this.images.find((i) => i.id === id && this.inCloud(i, access)) ?? null;
      return found?.status === 'active' ? { id, found } : { id, found, latest: this.latest(name, access) };
    });
  }

  /** An image without a `cloud` is in every cloud (the build cloud's tests); one with it only there. */
  private inCloud(image: { cloud?: string }, access: CloudAccess): boolean {
    return image.cloud === undefined || image.cloud === access.cloudName;
  }
}

/** A MemoryMachine for the running test, cleaned up when it finishes. */
export function testMachine(): MemoryMachine {
  const m = new MemoryMachine();
  onTestFinished(() => m.cleanup());
  return m;
}

/** One simulated machine for in-memory runs: a temp host root, its programs and its cloud. */
export class MemoryMachine {
  readonly root: string;
  readonly programs: ScriptedPrograms;
  readonly cloud = new MemoryCloud();
  /** The unit's charm directory, the same in every run (the scripts and the exporter unit name it). */
  readonly charmDir: string;

  constructor() {
    this.root = mkdtempSync(path.join(tmpdir(), 'memory-host-'));
    for (const d of ['etc/cron.d', 'etc/logrotate.d', 'etc/systemd/system', 'var/lib', 'var/log', 'opt', 'home/ubuntu', 'usr/bin']) mkdirSync(path.join(this.root, d), { recursive: true });
    this.programs = new ScriptedPrograms(this.root);
    // Outside the host root: its unit state file changes every run, the host must not.
    this.charmDir = mkdtempSync(path.join(tmpdir(), 'memory-charm-'));
  }

  hostPath(prodPath: string): string {
    return path.join(this.root, prodPath);
  }

  /** A build holds the lock, recorded as the build script records itself. */
  holdLock(startedAt: Date, session = 4242): void {
    this.programs.lockHeld = true;
    writeFileSync(this.hostPath(BUILD_RUNNING_PATH), `${session} ${Math.floor(startedAt.getTime() / 1000)} scheduled\n`);
  }

  deps(): CharmDeps {
    return { host: (env) => new Host({ ...env, CHARM_HOST_ROOT: this.root, PATH: '/usr/bin:/bin' }, this.programs), cloud: this.cloud };
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
    rmSync(this.charmDir, { recursive: true, force: true });
  }
}

const repo = path.resolve(import.meta.dirname, '../..');
const meta = await loadCharmMeta(repo);

/** A Context running the real charm on this machine. */
export function charmContext(machine: MemoryMachine, opts: { env?: Record<string, string> } = {}): Context {
  const deps = machine.deps();
  class OnThisMachine extends ImageBuilderCharm {
    constructor(framework: ConstructorParameters<typeof ImageBuilderCharm>[0]) {
      super(framework, deps);
    }
  }
  return new Context(OnThisMachine, meta, { appName: 'github-runner-image-builder', charmDir: machine.charmDir, ...(opts.env ? { env: opts.env } : {}) });
}
