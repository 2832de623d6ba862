// Runs one conformance case two ways and reports what each saw, in one shape:
//   memory:  the in-memory backend (src/ops/testing) answering the calls in process;
//   process: a simulated unit (test/support/juju.ts) whose dispatch runs driver.mjs, which spawns
//            the stand-in hook tools (test/fakes/hook-tools) for real, in a real hook context.
// Both start from the same state, make the same calls, and commit (or not) on the same exit code.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ToolCall } from '../../src/ops/hookcmds.js';
import { MemoryBackend, on, relation, state, type TestEvent } from '../../src/ops/testing/index.js';
import { createUnit, type Databag, type RelationSpec, type SimUnit } from '../support/juju.js';

export const UNIT = 'tester/0';

/** One tool call and Juju's answer (exact text, or a pattern). */
export interface Step {
  readonly tool: string;
  readonly args: readonly string[];
  readonly stdin?: string;
  readonly expect: { readonly exitCode: number; readonly stdout?: string | RegExp; readonly stderr?: string | RegExp };
}

export type CaseContext =
  | { readonly kind: 'hook'; readonly name?: string }
  | { readonly kind: 'action'; readonly name: string; readonly params?: Record<string, unknown> }
  | { readonly kind: 'relation'; readonly endpoint: string; readonly id: number; readonly phase: 'joined' | 'changed' | 'departed' | 'broken'; readonly remoteUnit?: string };

export interface Case {
  readonly name: string;
  readonly leader?: boolean;
  readonly config?: Record<string, string | number | boolean>;
  readonly relations?: readonly RelationSpec[];
  readonly unitStatus?: { status: string; message: string };
  readonly appStatus?: { status: string; message: string };
  readonly charmState?: Record<string, string>;
  /** Committed opened ports. */
  readonly openedPorts?: Record<string, string[]>;
  /** Default: a plain hook (update-status). */
  readonly context?: CaseContext;
  readonly steps: readonly Step[];
  /** The hook's exit code (default 0): non-zero discards relation data, charm state and ports. */
  readonly hookExit?: number;
  /** What both sides must show afterwards (partial: toMatchObject). */
  readonly after?: Partial<Observed>;
}

export interface Output {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
}

/** What a side saw: each call's output and the unit afterwards (committed state and records). */
export interface Observed {
  outputs: Output[];
  relations: Record<string, { 'local-unit': Databag; 'local-app': Databag }>;
  unitStatus: { status: string; message: string };
  appStatus: { status: string; message: string };
  workloadVersion: string;
  charmState: Record<string, string>;
  openedPorts: Record<string, string[]>;
  /** null outside an action. */
  action: { results: Record<string, unknown>; logs: string[]; failed: string | null } | null;
  logs: { level: string; message: string; relation?: string }[];
  statusHistory: { application: boolean; status: string; message: string }[];
  calls: { tool: string; argv: string[]; stdin: string | null }[];
}

/** A step built from the framework's own argv (src/ops/hookcmds.ts). */
export function framework(call: ToolCall, expect: Step['expect']): Step {
  return { tool: call.tool, args: call.args, ...(call.input !== undefined ? { stdin: call.input } : {}), expect };
}

/** A step with hand-written argv. */
export function tool(line: readonly [string, ...string[]], expect: Step['expect'], stdin?: string): Step {
  const [name, ...args] = line;
  return { tool: name, args, ...(stdin !== undefined ? { stdin } : {}), expect };
}

const context = (c: Case): CaseContext => c.context ?? { kind: 'hook' };

// --- in memory -----------------------------------------------------------------------------------
function testEvent(c: Case, rels: ReturnType<typeof relation>[]): TestEvent {
  const ctx = context(c);
  if (ctx.kind === 'action') return on.action(ctx.name, ctx.params ?? {});
  if (ctx.kind === 'relation') {
    const rel = rels.find((r) => r.endpoint === ctx.endpoint && r.id === ctx.id)!;
    return on.relation(ctx.phase, rel, ctx.remoteUnit ? { remoteUnit: ctx.remoteUnit } : {});
  }
  return on.hook(ctx.name ?? 'update-status');
}

export function runInMemory(c: Case): Observed {
  const rels = (c.relations ?? []).map((r) => {
    const units = [...(r.units ?? Object.keys(r.remoteUnits ?? {}))];
    return relation(r.endpoint, {
      id: r.id,
      remoteApp: r.app,
      remoteUnits: units,
      localUnitData: { ...r.localUnit },
      localAppData: { ...r.localApp },
      remoteUnitsData: Object.fromEntries(units.map((u) => [u, { ...r.remoteUnits?.[u] }])),
      remoteAppData: { ...r.remoteApp },
    });
  });
  const stateIn = state({
    config: c.config ?? {},
    leader: c.leader ?? true,
    relations: rels,
    ...(c.unitStatus ? { unitStatus: c.unitStatus as never } : {}),
    ...(c.appStatus ? { appStatus: c.appStatus as never } : {}),
    charmState: c.charmState ?? {},
    openedPorts: c.openedPorts ?? {},
  });
  const event = testEvent(c, rels);
  const backend = new MemoryBackend(stateIn, UNIT, event.action ? { params: { ...event.action.params } } : undefined, { ...event.env });
  const outputs = c.steps.map((s) => {
    const r = backend.runTool({ tool: s.tool, args: s.args, ...(s.stdin !== undefined ? { input: s.stdin } : {}) });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code };
  });
  const out = backend.outputState((c.hookExit ?? 0) === 0);
  const isAction = context(c).kind === 'action';
  return {
    outputs,
    relations: Object.fromEntries(out.relations.map((r) => [`${r.endpoint}:${r.id}`, { 'local-unit': r.localUnitData, 'local-app': r.localAppData }])),
    unitStatus: { ...out.unitStatus },
    appStatus: { ...out.appStatus },
    workloadVersion: out.workloadVersion,
    charmState: { ...out.charmState },
    openedPorts: structuredClone(out.openedPorts ?? {}) as Record<string, string[]>,
    action: isAction ? { results: backend.recorded.actionResults, logs: backend.recorded.actionLogs, failed: backend.recorded.actionFailure ?? null } : null,
    logs: backend.journal.flatMap((e) => (e.kind === 'log' ? [{ level: e.level, message: e.message, ...(e.relation !== undefined ? { relation: e.relation } : {}) }] : [])),
    statusHistory: backend.journal.flatMap((e) => (e.kind === 'status' ? [{ application: e.application, status: e.status, message: e.message }] : [])),
    calls: backend.recorded.calls.map((k) => ({ tool: k.tool, argv: [...k.argv], stdin: k.stdin })),
  };
}

// --- as processes --------------------------------------------------------------------------------
let charmDir: string | undefined;

/** A charm dir whose dispatch runs driver.mjs with the node running the tests. */
function driverCharm(): string {
  if (charmDir) return charmDir;
  charmDir = mkdtempSync(path.join(tmpdir(), 'conformance-charm-'));
  const driver = path.join(import.meta.dirname, 'driver.mjs');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(path.join(charmDir, 'dispatch'), `#!/bin/sh\nexec ${q(process.execPath)} ${q(driver)}\n`, { mode: 0o755 });
  return charmDir;
}

const units: SimUnit[] = [];

export async function runAsProcesses(c: Case): Promise<Observed> {
  const u = createUnit({ charmDir: driverCharm(), unitName: UNIT, config: c.config ?? {}, leader: c.leader ?? true, relations: c.relations ?? [] });
  units.push(u);
  const put = (rel: string, content: string) => {
    mkdirSync(path.dirname(path.join(u.jujuDir, rel)), { recursive: true });
    writeFileSync(path.join(u.jujuDir, rel), content);
  };
  if (c.unitStatus) put('state/unit-status.json', JSON.stringify(c.unitStatus));
  if (c.appStatus) put('state/app-status.json', JSON.stringify(c.appStatus));
  if (c.charmState) put('state/charm-state.json', JSON.stringify(c.charmState));
  if (c.openedPorts) put('state/opened-ports.json', JSON.stringify(c.openedPorts));
  const steps = path.join(u.dir, 'steps.json');
  const outFile = path.join(u.dir, 'outputs.json');
  writeFileSync(steps, JSON.stringify(c.steps.map((s) => ({ tool: s.tool, args: s.args, stdin: s.stdin ?? '' }))));

  const ctx = context(c);
  const env = { CONFORMANCE_STEPS: steps, CONFORMANCE_OUT: outFile, CONFORMANCE_EXIT: String(c.hookExit ?? 0) };
  const r =
    ctx.kind === 'action'
      ? await u.dispatch({ action: ctx.name, params: ctx.params ?? {} }, { env })
      : ctx.kind === 'relation'
        ? await u.dispatch(`${ctx.endpoint}-relation-${ctx.phase}`, { env, relation: { id: ctx.id, ...(ctx.remoteUnit ? { remoteUnit: ctx.remoteUnit } : {}) } })
        : await u.dispatch(ctx.name ?? 'update-status', { env });
  if (r.code !== (c.hookExit ?? 0)) throw new Error(`the driver exited ${r.code}: ${r.stderr}`);
  const outputs = JSON.parse(readFileSync(outFile, 'utf8')) as Output[];
  const rels = u.relations();
  return {
    outputs,
    relations: Object.fromEntries(Object.entries(rels).map(([k, v]) => [k, { 'local-unit': v['local-unit'], 'local-app': v['local-app'] }])),
    unitStatus: u.unitStatus(),
    appStatus: u.appStatus(),
    workloadVersion: u.workloadVersion(),
    charmState: u.charmState(),
    openedPorts: u.openedPorts(),
    action: ctx.kind === 'action' ? { results: r.actionResults ?? {}, logs: r.actionLogs, failed: r.actionFailed ?? null } : null,
    logs: r.logs.map((l) => ({ level: l.level, message: l.message, ...(l.relation !== undefined ? { relation: l.relation } : {}) })),
    statusHistory: r.statusHistory.map((s) => ({ application: s.application, status: s.status, message: s.message })),
    calls: r.calls.map((k) => ({ tool: k.tool, argv: k.argv, stdin: k.stdin })),
  };
}

export function cleanupProcesses(): void {
  for (const u of units.splice(0)) u.cleanup();
  if (charmDir) rmSync(charmDir, { recursive: true, force: true });
  charmDir = undefined;
}
