// The only place that spawns hook tools. Synchronous on purpose: tools are called one at a time
// by the model, and spawnSync needs no module beyond node:child_process (hooks are fresh
// processes, so start-up cost counts on every event).
import { spawnSync } from 'node:child_process';
import type { ToolCall } from './hookcmds.js';

export interface ToolResult {
  /** The exit code; null when the tool did not exit by itself (see the fields below). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the tool could not be started at all: the errno code (ENOENT on PATH, EACCES...). */
  readonly spawnError?: string;
  /** The signal that ended it. */
  readonly signal?: string;
  /** It ran past `timeoutMs` and was killed. */
  readonly timedOut?: boolean;
  readonly timeoutMs?: number;
  /** Its output went past `maxBuffer` bytes and it was killed. */
  readonly bufferExceeded?: boolean;
  readonly maxBuffer?: number;
}

export interface ToolRunner {
  run(call: ToolCall): ToolResult;
}

export interface ToolRunnerOptions {
  /** Kill a tool that runs longer than this (default 5 minutes). */
  readonly timeoutMs?: number;
  /** Kill a tool whose stdout or stderr grows past this many bytes (default 64 MiB). */
  readonly maxBuffer?: number;
}

export class ProcessToolRunner implements ToolRunner {
  private readonly timeoutMs: number;
  private readonly maxBuffer: number;

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    opts: ToolRunnerOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5 * 60_000;
    this.maxBuffer = opts.maxBuffer ?? 64 * 1024 * 1024;
  }

  run(call: ToolCall): ToolResult {
    const res = spawnSync(call.tool, call.args as string[], {
      input: call.input ?? '',
      encoding: 'utf8',
      env: this.env,
      timeout: this.timeoutMs,
      maxBuffer: this.maxBuffer,
    });
    const errno = res.error ? ((res.error as NodeJS.ErrnoException).code ?? res.error.message) : undefined;
    const base = { code: res.status, stdout: res.stdout ?? '', stderr: res.stderr ?? '', ...(res.signal ? { signal: res.signal } : {}) };
    // spawnSync reports a timeout and an overfull buffer as errors too, after killing the tool.
    if (errno === 'ETIMEDOUT') return { ...base, timedOut: true, timeoutMs: this.timeoutMs };
    if (errno === 'ENOBUFS') return { ...base, bufferExceeded: true, maxBuffer: this.maxBuffer };
    return errno ? { ...base, spawnError: errno } : base;
  }
}
