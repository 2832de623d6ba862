// The host as the charm sees it: files under CHARM_HOST_ROOT (default "/") and the few host
// programs it runs, looked up on PATH. Tests point CHARM_HOST_ROOT at a temp dir and put
// stand-ins first on PATH; production runs as root on the machine itself.
import { accessSync, chmodSync, chownSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '../ops/atomic-write.js';
import { ProcessError } from '../ops/errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Stderr as a status line can hold it: the last lines, joined. Host programs fail with the
 * framework's ProcessError (command, exit code, signal, timeout, stderr), whose message the
 * charm shows in a blocked status.
 */
function stderrLine(stderr: string): string {
  return stderr.trim().split('\n').slice(-5).join(' | ');
}

/**
 * A file on the host could not be read, written or removed (disk full, read-only or immutable
 * file system, a file where a directory should be...). The message names the production path
 * and the error code, not the temp file or the test root.
 */
export class HostFileError extends Error {
  override name = 'HostFileError';
  readonly code: string | undefined;
  constructor(verb: string, prodPath: string, cause: unknown) {
    const e = cause as NodeJS.ErrnoException;
    const code = typeof e?.code === 'string' ? e.code : undefined;
    // Node's message is "CODE: description, syscall 'path'": keep "CODE: description".
    const why = String(e?.message ?? cause).split(', ')[0];
    super(`cannot ${verb} ${prodPath} (${why})`, { cause });
    this.code = code;
  }
}

export interface RunOptions {
  readonly env?: Env;
  readonly cwd?: string;
  readonly timeoutMs?: number;
  readonly input?: string;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}


/** A program started by spawnDetached, as far as the hook follows it. */
export interface Detached {
  /** Its exit code once it ended (null when killed by a signal), undefined while it runs. */
  exitCode(): number | null | undefined;
  /** Why it could not be started, if it could not. */
  startError(): Error | undefined;
  /** Lets the hook end without waiting for it. */
  release(): void;
}

/** How host programs are run: processes in production, a script in the in-memory tests. */
export interface Programs {
  run(command: readonly [string, ...string[]], opts: RunOptions): Promise<RunResult>;
  spawnDetached(file: string, args: readonly string[], opts: { env: Env; cwd: string }): Detached;
}

/** Host programs as processes: execa (loaded on first use) for run, child_process for detached builds. */
const processPrograms: Programs = {
  async run(command, opts) {
    const { execa } = await import('execa');
    const [file, ...args] = command;
    const res = await execa(file, args, {
      reject: false,
      env: { ...opts.env },
      extendEnv: false,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      input: opts.input ?? '',
      stripFinalNewline: false,
    });
    if (res.failed && res.exitCode === undefined) {
      throw new ProcessError({
        command,
        timedOut: res.timedOut,
        timeoutMs: opts.timeoutMs,
        signal: res.signal,
        spawnError: res.timedOut || res.isTerminated ? undefined : ((res.cause as NodeJS.ErrnoException | undefined)?.code ?? 'error'),
        stderr: stderrLine(String(res.stderr ?? '')),
        cause: res.cause,
      });
    }
    return { exitCode: res.exitCode ?? 0, stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? '') };
  },
  spawnDetached(file, args, opts) {
    const child = spawn(file, args as string[], { detached: true, stdio: 'ignore', env: { ...opts.env }, cwd: opts.cwd });
    let code: number | null | undefined;
    let error: Error | undefined;
    child.on('exit', (c) => (code = c));
    child.on('error', (e) => (error = e));
    return { exitCode: () => code, startError: () => error, release: () => child.unref() };
  },
};

export class Host {
  readonly root: string;

  constructor(
    readonly env: Env = process.env,
    private readonly programs: Programs = processPrograms,
  ) {
    this.root = env.CHARM_HOST_ROOT || '/';
  }

  /** The real location of a production path such as /etc/cron.d/build-runner-image. */
  path(prodPath: string): string {
    return path.join(this.root, prodPath);
  }

  /**
   * The file's text; undefined when it is absent, or is not a regular file (a symlink, FIFO,
   * socket or device someone put there is never followed or opened for reading, so it can
   * neither redirect root nor block the hook), or is larger than `maxBytes` (then not read).
   */
  readText(prodPath: string, maxBytes?: number): string | undefined {
    let fd: number;
    try {
      fd = openSync(this.path(prodPath), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENXIO') return undefined;
      throw new HostFileError('read', prodPath, err);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || (maxBytes !== undefined && st.size > maxBytes)) return undefined;
      const text = readFileSync(fd, 'utf8');
      // It may have grown since the fstat.
      return maxBytes !== undefined && Buffer.byteLength(text) > maxBytes ? undefined : text;
    } catch (err) {
      throw new HostFileError('read', prodPath, err);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The sessions of the processes that hold the file open (from /proc: every fd link that names
   * it). What holds the build lock is the build, whether or not it could record itself.
   */
  sessionsHolding(prodPath: string): number[] {
    const target = this.path(prodPath);
    const sessions = new Set<number>();
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue; // gone, or not ours to read
      }
      const holds = fds.some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
        } catch {
          return false;
        }
      });
      if (!holds) continue;
      try {
        // stat: "pid (comm) state ppid pgrp session ..."; comm may hold spaces and parentheses.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
        if (Number.isInteger(session) && session > 1) sessions.add(session);
      } catch {
        // ended meanwhile
      }
    }
    return [...sessions];
  }

  /** Whether anything (a dangling symlink too) is at the path. */
  exists(prodPath: string): boolean {
    try {
      lstatSync(this.path(prodPath));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes atomically when the content differs; returns whether it wrote. A write that fails
   * leaves the old file as it was (and no temp file); one killed half-way leaves a temp file,
   * which the next call for the same path removes.
   */
  writeIfChanged(prodPath: string, content: string, opts: { mode: number; uid?: number; gid?: number }): boolean {
    if (this.readText(prodPath) === content && this.hasModeAndOwner(prodPath, opts)) {
      // A temp file a killed hook left (clouds.yaml's holds the password) goes even when
      // unchanged; a write (writeFileAtomic) removes them itself.
      removeStaleTemps(this.path(prodPath));
      return false;
    }
    try {
      // The rename replaces whatever is at the path (a symlink itself, never its target).
      writeFileAtomic(this.path(prodPath), content, opts);
    } catch (err) {
      throw new HostFileError('write', prodPath, err);
    }
    return true;
  }

  private hasModeAndOwner(prodPath: string, opts: { mode: number; uid?: number; gid?: number }): boolean {
    const st = lstatSync(this.path(prodPath));
    if ((st.mode & 0o7777) !== opts.mode) return false;
    return !this.asRoot || opts.uid === undefined || (st.uid === opts.uid && st.gid === (opts.gid ?? opts.uid));
  }

  /** Owners are set only when the charm runs as root (always, in Juju; tests may run unprivileged). */
  private get asRoot(): boolean {
    return process.getuid?.() === 0;
  }

  /**
   * Makes the directory exist with this mode, owned by root (when running as root): created if
   * missing (its parents must exist), mode and owner corrected if not. A symlink or a
   * non-directory at the path is refused, never followed.
   */
  ensureDir(prodPath: string, mode: number): void {
    const p = this.path(prodPath);
    try {
      let st;
      try {
        st = lstatSync(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        mkdirSync(p, { mode });
        st = lstatSync(p);
      }
      if (!st.isDirectory()) throw Object.assign(new Error(`ENOTDIR: ${st.isSymbolicLink() ? 'a symlink' : 'a file'} is in the way`), { code: 'ENOTDIR' });
      if (this.asRoot && (st.uid !== 0 || st.gid !== 0)) chownSync(p, 0, 0);
      if ((st.mode & 0o7777) !== mode) chmodSync(p, mode);
    } catch (err) {
      throw new HostFileError('create the directory', prodPath, err);
    }
  }

  /** Removes a file, symlink (not its target) or, with `recursive`, a directory tree. */
  remove(prodPath: string, opts: { recursive?: boolean } = {}): boolean {
    if (!this.exists(prodPath)) return false;
    try {
      rmSync(this.path(prodPath), { force: true, recursive: opts.recursive ?? false });
    } catch (err) {
      throw new HostFileError('remove', prodPath, err);
    }
    return true;
  }

  /** Resolves a program on PATH to an absolute path (for files that cron runs later). */
  which(program: string): string | undefined {
    for (const dir of (this.env.PATH ?? '').split(':')) {
      if (!dir) continue;
      const candidate = path.join(dir, program);
      try {
        accessSync(candidate, constants.X_OK);
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not here
      }
    }
    return undefined;
  }

  /** Runs a host program without a shell; never throws for a non-zero exit (see runChecked). */
  run(command: readonly [string, ...string[]], opts: RunOptions = {}): Promise<RunResult> {
    return this.programs.run(command, opts);
  }

  /** Starts a program that outlives the hook: its own session, no stdio, not waited for. */
  spawnDetached(file: string, args: readonly string[], opts: { env: Env; cwd: string }): Detached {
    return this.programs.spawnDetached(file, args, opts);
  }

  /** Runs a host program and throws ProcessError unless it exits 0. */
  async runChecked(command: readonly [string, ...string[]], opts: RunOptions = {}): Promise<RunResult> {
    const res = await this.run(command, opts);
    if (res.exitCode !== 0) throw new ProcessError({ command, exitCode: res.exitCode, stderr: stderrLine(res.stderr) });
    return res;
  }
}
