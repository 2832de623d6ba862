// Errors the framework raises. Messages name what failed and never carry a process's stdin
// (relation data, action results), which may hold secrets.

/** The process was not started the way Juju starts a charm (a variable is missing or malformed). */
export class ContextError extends Error {
  override name = 'ContextError';
}

/** How a program run ended, as far as ProcessError needs to know. Never holds its stdin. */
export interface ProcessErrorOptions {
  /** The argv: program and arguments. */
  readonly command: readonly string[];
  /** The exit code, when the program exited. */
  readonly exitCode?: number | null | undefined;
  /** The signal that ended it (SIGTERM, SIGKILL, ...), when one did. */
  readonly signal?: string | null | undefined;
  /** It ran past its time limit and was killed. */
  readonly timedOut?: boolean | undefined;
  /** The time limit, for the message (`timed out after 300 s`). */
  readonly timeoutMs?: number | undefined;
  /** Its output went past the buffer limit (ENOBUFS) and it was killed. */
  readonly bufferExceeded?: boolean | undefined;
  /** The buffer limit in bytes, for the message (`the 64 MiB buffer`). */
  readonly maxBuffer?: number | undefined;
  /** It could not be started: the errno code (ENOENT, EACCES, ...). */
  readonly spawnError?: string | undefined;
  /** Said after a spawn error, e.g. `is this running in a Juju hook context?`. */
  readonly hint?: string | undefined;
  /** What it printed on stderr; the message shows the tail. */
  readonly stderr?: string | undefined;
  readonly cause?: unknown;
  /** Names the kind of program at the start of the message, e.g. `hook tool`. */
  readonly label?: string | undefined;
  /** Replaces the usual reason, e.g. `printed output that is not JSON (3 bytes)`. */
  readonly detail?: string | undefined;
}

/** The last part of stderr that a message shows. */
const STDERR_TAIL_CHARS = 2000;

const SAFE_ARG = /^[\w@%+=:,./-]+$/;

/** `config-get --format=json`, `status-set -- "two words"`: argv as a shell would read it. */
export function escapeCommand(command: readonly string[]): string {
  return command.map((a) => (SAFE_ARG.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** The last STDERR_TAIL_CHARS characters of stderr, trimmed, from a line start when it was cut. */
function stderrTail(stderr: string): string {
  const text = stderr.trim();
  if (text.length <= STDERR_TAIL_CHARS) return text;
  const cut = text.slice(-STDERR_TAIL_CHARS);
  const nl = cut.indexOf('\n');
  return `…${nl >= 0 && nl < cut.length - 1 ? cut.slice(nl + 1) : cut}`;
}

const duration = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
const bytes = (n: number): string =>
  n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;

/**
 * A program (a hook tool, or a host program the charm runs) failed: it could not be started,
 * timed out, outgrew its output buffer, was killed by a signal, or exited non-zero. Shaped like
 * execa's error (command, escapedCommand, exitCode, signal, timedOut, stderr, cause) but with
 * the argv as `command`, and a message that says which of those happened:
 *
 *   `config-get --format=json` timed out after 300 s
 *   `apt-get update` was killed by SIGTERM
 *   `config-get --format=json` could not be started (ENOENT); is this running in a Juju hook context?
 *   `apt-get update` exited with code 100: E: Could not get lock …
 *   `relation-get --format=json -r image:1 - runner/0` output exceeded the 64 MiB buffer
 *
 * Its stdin is never part of it.
 */
export class ProcessError extends Error {
  override name = 'ProcessError';
  /** The argv. */
  readonly command: readonly string[];
  /** The argv quoted for a shell, as the message shows it. */
  readonly escapedCommand: string;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  readonly bufferExceeded: boolean;
  /** The errno code when the program could not be started. */
  readonly spawnError: string | undefined;
  /** The tail of stderr (STDERR_TAIL_CHARS). */
  readonly stderr: string;

  constructor(opts: ProcessErrorOptions) {
    const escaped = escapeCommand(opts.command);
    const tail = stderrTail(opts.stderr ?? '');
    super(`${opts.label ? `${opts.label} ` : ''}\`${escaped}\` ${ProcessError.reason(opts)}${tail && !opts.spawnError ? `: ${tail}` : ''}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.command = opts.command;
    this.escapedCommand = escaped;
    this.exitCode = opts.exitCode ?? undefined;
    this.signal = opts.signal ?? undefined;
    this.timedOut = opts.timedOut === true;
    this.bufferExceeded = opts.bufferExceeded === true;
    this.spawnError = opts.spawnError;
    this.stderr = tail;
  }

  private static reason(o: ProcessErrorOptions): string {
    if (o.detail) return o.detail;
    if (o.spawnError) return `could not be started (${o.spawnError})${o.hint ? `; ${o.hint}` : ''}`;
    if (o.timedOut) return o.timeoutMs !== undefined ? `timed out after ${duration(o.timeoutMs)}` : 'timed out';
    if (o.bufferExceeded) return o.maxBuffer !== undefined ? `output exceeded the ${bytes(o.maxBuffer)} buffer` : 'output exceeded its buffer';
    if (o.signal) return `was killed by ${o.signal}`;
    if (typeof o.exitCode === 'number') return `exited with code ${o.exitCode}`;
    return 'failed';
  }
}

/**
 * A hook tool failed. The message starts with `hook tool`; `tool` and `args` split the argv.
 * Also constructed the short way, `new HookToolError(tool, args, exitCode, stderr, detail?)`.
 */
export class HookToolError extends ProcessError {
  override name = 'HookToolError';

  constructor(opts: ProcessErrorOptions);
  constructor(tool: string, args: readonly string[], exitCode: number | null, stderr: string, detail?: string);
  constructor(first: ProcessErrorOptions | string, args?: readonly string[], exitCode?: number | null, stderr?: string, detail?: string) {
    super(
      typeof first === 'string'
        ? { command: [first, ...(args ?? [])], exitCode, stderr, detail, label: 'hook tool' }
        : { label: 'hook tool', ...first },
    );
  }
  get tool(): string {
    return this.command[0] ?? '';
  }
  get args(): readonly string[] {
    return this.command.slice(1);
  }
}

/** Juju answered "relation not found" (the relation is gone or the id is wrong). */
export class RelationNotFoundError extends HookToolError {
  override name = 'RelationNotFoundError';
}

/**
 * Juju refused a databag read or write: `relation-set --app` by a unit that is not the leader
 * (`cannot write relation settings`), or `relation-get` of this application's databag of a
 * provides/requires relation by a non-leader (`permission denied`). ops raises its
 * RelationDataAccessError for the same cases. Every unit may read a peer relation's application
 * databag; only the leader writes it.
 */
export class RelationDataAccessError extends HookToolError {
  override name = 'RelationDataAccessError';
}

/**
 * A secret tool said "not found": no secret with that id (it was removed, or the id is wrong),
 * no secret with that label for this unit, or no such key. The message names the tool's argv
 * (the secret's id or label) and Juju's answer, never content: e.g. ``hook tool `secret-get
 * secret:cq8gl6vmp25c77o6ej50 --format=json` exited with code 1: ERROR secret
 * "secret:cq8gl6vmp25c77o6ej50" not found``.
 */
export class SecretNotFoundError extends HookToolError {
  override name = 'SecretNotFoundError';
}

/**
 * A secret tool said "permission denied": the secret exists but this application may not read
 * it (a user secret not granted with `juju grant-secret`, or a grant that was revoked). Granting
 * fires no hook, so a charm retries on its next hook. The message names the argv, never content.
 */
export class SecretPermissionError extends HookToolError {
  override name = 'SecretPermissionError';
}

/** The model does not match what the charm declared (config types, endpoints, action keys). */
export class ModelError extends Error {
  override name = 'ModelError';
}

/**
 * Thrown by a config parser given to `loadConfig`: the config is invalid. The message becomes
 * the unit's blocked status, so it says which option is wrong and what to set instead.
 */
export class ConfigInvalid extends Error {
  override name = 'ConfigInvalid';
}
