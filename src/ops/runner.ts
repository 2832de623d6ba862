// The only place that spawns hook tools. Synchronous on purpose: tools are called one at a time
// by the model, and spawnSync needs no module beyond node:child_process (hooks are fresh
// processes, so start-up cost counts on every event).
import { spawnSync } from 'node:child_process';
import type { ToolCall } from './hookcmds.js';

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the tool could not be started at all (ENOENT on PATH, ...). */
  readonly spawnError?: string;
}

export interface ToolRunner {
  run(call: ToolCall): ToolResult;
}

export class ProcessToolRunner implements ToolRunner {
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly timeoutMs = 5 * 60_000,
  ) {}

  run(call: ToolCall): ToolResult {
    const res = spawnSync(call.tool, call.args as string[], {
      input: call.input ?? '',
      encoding: 'utf8',
      env: this.env,
      timeout: this.timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return {
      code: res.status,
      stdout: res.stdout ?? '',
      stderr: res.stderr ?? '',
      ...(res.error ? { spawnError: (res.error as NodeJS.ErrnoException).code ?? res.error.message } : {}),
    };
  }
}
