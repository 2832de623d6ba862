// The model's view of Juju: one typed method per hook-tool operation. ProcessBackend speaks the
// real tools through a ToolRunner; the testing package has an in-memory one with Juju's rules.
import { HookToolError, RelationDataAccessError, RelationNotFoundError, SecretNotFoundError, SecretPermissionError } from './errors.js';
import { hookcmds, type LogLevel, type SecretRef, type StatusName, type ToolCall } from './hookcmds.js';
import type { ToolResult, ToolRunner } from './runner.js';

export type ConfigValue = string | number | boolean;
export type Databag = Record<string, string>;
export interface StatusValue {
  readonly status: StatusName | 'unknown' | 'error';
  readonly message: string;
}

/** What secret-info-get says about a secret this unit (or, for the leader, its application) owns. */
export interface SecretMetadataValue {
  /** The id as the tool keys it (the 20 characters of `secret:<id>`). */
  readonly id: string;
  readonly revision: number;
  readonly label: string;
  /** `application` or `unit`. */
  readonly owner: string;
  readonly description?: string;
  readonly rotation?: string;
  readonly expiry?: string;
  readonly rotates?: string;
}

export interface Backend {
  configGet(): Record<string, unknown>;
  statusSet(status: StatusName, message: string, application: boolean): void;
  statusGet(application: boolean): StatusValue;
  jujuLog(level: LogLevel, message: string): void;
  isLeader(): boolean;
  actionGet(): Record<string, unknown>;
  actionSet(flat: Readonly<Record<string, string>>): void;
  actionLog(message: string): void;
  actionFail(message: string): void;
  relationIds(endpoint: string): string[];
  relationList(relationId: string): string[];
  relationRemoteApp(relationId: string): string;
  relationGet(relationId: string, member: string, app: boolean): Databag;
  relationSet(relationId: string, data: Readonly<Databag>, app: boolean): void;
  applicationVersionSet(version: string): void;
  /** secret-get: the content of the revision Juju gives (tracked; latest with peek/refresh). */
  secretGet(ref: SecretRef, mode?: 'refresh' | 'peek'): Databag;
  /** secret-info-get: the metadata of a secret this unit owns. */
  secretInfoGet(ref: SecretRef): SecretMetadataValue;
}

/**
 * The error a failed call becomes: relation and secret tools' "not found" and "permission
 * denied", and relation-set's "cannot write relation settings", are typed.
 */
function errorTypeFor(call: ToolCall, res: ToolResult): typeof HookToolError {
  if (res.code === null) return HookToolError;
  if (call.tool.startsWith('relation-') && /relation not found/.test(res.stderr)) return RelationNotFoundError;
  if ((call.tool === 'relation-set' || call.tool === 'relation-get') && /cannot write relation settings|permission denied/.test(res.stderr)) return RelationDataAccessError;
  if (call.tool.startsWith('secret-')) {
    if (/not found/.test(res.stderr)) return SecretNotFoundError;
    if (/permission denied/.test(res.stderr)) return SecretPermissionError;
  }
  return HookToolError;
}

export class ProcessBackend implements Backend {
  constructor(private readonly runner: ToolRunner) {}

  /**
   * Runs a call; a tool that cannot start, times out, outgrows its buffer, is killed or exits
   * non-zero becomes a HookToolError (a ProcessError) naming the argv and stderr, never the
   * stdin or stdout (secret-get's stdout is the secret).
   */
  private exec(call: ToolCall): string {
    const res = this.runner.run(call);
    if (res.spawnError || res.timedOut || res.bufferExceeded || res.code !== 0) {
      const ErrorType = errorTypeFor(call, res);
      throw new ErrorType({
        command: [call.tool, ...call.args],
        exitCode: res.code,
        signal: res.signal,
        timedOut: res.timedOut,
        timeoutMs: res.timeoutMs,
        bufferExceeded: res.bufferExceeded,
        maxBuffer: res.maxBuffer,
        spawnError: res.spawnError,
        hint: 'is this running in a Juju hook context?',
        stderr: res.stderr,
      });
    }
    return res.stdout;
  }

  private json<T>(call: ToolCall): T {
    const out = this.exec(call);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new HookToolError({ command: [call.tool, ...call.args], exitCode: 0, detail: `printed output that is not JSON (${out.length} bytes)` });
    }
  }

  configGet(): Record<string, unknown> {
    return this.json<Record<string, unknown> | null>(hookcmds.configGet()) ?? {};
  }
  statusSet(status: StatusName, message: string, application: boolean): void {
    this.exec(hookcmds.statusSet(status, message, application));
  }
  statusGet(application: boolean): StatusValue {
    const raw = this.json<Record<string, unknown>>(hookcmds.statusGet(application));
    const s = (application ? (raw['application-status'] as Record<string, unknown>) : raw) ?? {};
    return { status: String(s.status ?? 'unknown') as StatusValue['status'], message: String(s.message ?? '') };
  }
  jujuLog(level: LogLevel, message: string): void {
    this.exec(hookcmds.jujuLog(level, message));
  }
  isLeader(): boolean {
    return this.json<boolean>(hookcmds.isLeader()) === true;
  }
  actionGet(): Record<string, unknown> {
    return this.json<Record<string, unknown> | null>(hookcmds.actionGet()) ?? {};
  }
  actionSet(flat: Readonly<Record<string, string>>): void {
    if (Object.keys(flat).length > 0) this.exec(hookcmds.actionSet(flat));
  }
  actionLog(message: string): void {
    this.exec(hookcmds.actionLog(message));
  }
  actionFail(message: string): void {
    this.exec(hookcmds.actionFail(message));
  }
  relationIds(endpoint: string): string[] {
    return this.json<string[] | null>(hookcmds.relationIds(endpoint)) ?? [];
  }
  relationList(relationId: string): string[] {
    return this.json<string[] | null>(hookcmds.relationList(relationId)) ?? [];
  }
  relationRemoteApp(relationId: string): string {
    return this.json<string | null>(hookcmds.relationList(relationId, true)) ?? '';
  }
  relationGet(relationId: string, member: string, app: boolean): Databag {
    return this.json<Databag | null>(hookcmds.relationGet(relationId, member, app)) ?? {};
  }
  relationSet(relationId: string, data: Readonly<Databag>, app: boolean): void {
    this.exec(hookcmds.relationSet(relationId, data, app));
  }
  applicationVersionSet(version: string): void {
    this.exec(hookcmds.applicationVersionSet(version));
  }
  secretGet(ref: SecretRef, mode?: 'refresh' | 'peek'): Databag {
    const call = hookcmds.secretGet(ref, mode);
    const out = this.exec(call);
    let content: unknown;
    try {
      content = JSON.parse(out);
    } catch {
      content = undefined;
    }
    if (typeof content !== 'object' || content === null || Array.isArray(content) || !Object.values(content).every((v) => typeof v === 'string')) {
      // Only the size: the output is the secret.
      throw new HookToolError({ command: [call.tool, ...call.args], exitCode: 0, detail: `printed output that is not a JSON object of strings (${out.length} bytes)` });
    }
    return { ...(content as Databag) };
  }
  secretInfoGet(ref: SecretRef): SecretMetadataValue {
    const call = hookcmds.secretInfoGet(ref);
    const raw = this.json<Record<string, Record<string, unknown>> | null>(call) ?? {};
    const [id, md] = Object.entries(raw)[0] ?? [];
    if (id === undefined || typeof md !== 'object' || md === null) {
      throw new HookToolError({ command: [call.tool, ...call.args], exitCode: 0, detail: 'printed no secret' });
    }
    const text = (k: string) => (typeof md[k] === 'string' ? { [k]: md[k] as string } : {});
    return { id, revision: Number(md.revision ?? 0), label: String(md.label ?? ''), owner: String(md.owner ?? ''), ...text('description'), ...text('rotation'), ...text('expiry'), ...text('rotates') };
  }
}
