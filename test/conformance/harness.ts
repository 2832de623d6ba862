// Runs one conformance case two ways and reports what each saw, in one shape:
//   memory:  the in-memory backend (src/ops/testing) answering the calls in process;
//   process: a simulated unit (test/support/juju.ts) whose dispatch runs driver.mjs, which spawns
//            the stand-in hook tools (test/fakes/hook-tools) for real, in a real hook context.
// Both start from the same state, make the same calls, and commit (or not) on the same exit code.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ToolCall } from '../../src/ops/hookcmds.js';
import { MemoryBackend, on, relation, state, type SecretState, type State, type TestEvent } from '../../src/ops/testing/index.js';
import { createUnit, type Databag, type RelationSpec, type SecretSpec, type SimUnit } from '../support/juju.js';

export const UNIT = 'tester/0';
export const MODEL_UUID = '5f0c6ce4-0a1b-4c2d-8e3f-4a5b6c7d8e9f';

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
  /** `remoteUnit: ''` in changed: the remote application's databag changed (JUJU_REMOTE_UNIT empty). */
  | { readonly kind: 'relation'; readonly endpoint: string; readonly id: number; readonly phase: 'joined' | 'changed' | 'departed' | 'broken'; readonly remoteUnit?: string };

/** What an operator does to the model between two contexts of a case (juju grant-secret, ...). */
export type ModelChange =
  | { readonly grant: string }
  | { readonly revoke: string }
  | { readonly update: string; readonly content: Databag }
  | { readonly remove: string };

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
  /** Secrets in the model, as the unit sees them (each with an id, for the steps to name). */
  readonly secrets?: readonly (SecretSpec & { readonly id: string })[];
  /** Default: a plain hook (update-status). */
  readonly context?: CaseContext;
  readonly steps: readonly Step[];
  /** The hook's exit code (default 0): non-zero discards relation data, charm state and ports. */
  readonly hookExit?: number;
  /** Later contexts of the same kind, each after the operator's changes to the model. */
  readonly then?: readonly { readonly change: readonly ModelChange[]; readonly steps: readonly Step[] }[];
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
  /** Per secret of the case: the revision the unit tracks and its label (the owner's label for an owned secret). */
  secrets: Record<string, { tracked: number | null; label: string | null }>;
}

/** Every step of a case, its later contexts' included, in order. */
export const allSteps = (c: Case): Step[] => [...c.steps, ...(c.then ?? []).flatMap((t) => t.steps)];

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
    return on.relation(ctx.phase, rel, ctx.remoteUnit !== undefined ? { remoteUnit: ctx.remoteUnit === '' ? null : ctx.remoteUnit } : {});
  }
  return on.hook(ctx.name ?? 'update-status');
}

function applyToState(st: State, change: ModelChange): State {
  const secrets = [...(st.secrets ?? [])];
  const at = (id: string) => secrets.findIndex((x) => x.id === id);
  if ('grant' in change) secrets[at(change.grant)] = { ...secrets[at(change.grant)]!, granted: true };
  else if ('revoke' in change) secrets[at(change.revoke)] = { ...secrets[at(change.revoke)]!, granted: false };
  else if ('update' in change) secrets[at(change.update)] = { ...secrets[at(change.update)]!, revisions: [...secrets[at(change.update)]!.revisions, { ...change.content }] };
  else secrets.splice(at(change.remove), 1);
  return { ...st, secrets };
}

function secretsSeen(c: Case, view: (id: string) => { tracked?: number | undefined; label?: string | undefined } | undefined): Observed['secrets'] {
  return Object.fromEntries((c.secrets ?? []).map((s) => {
    const v = view(s.id);
    return [s.id, { tracked: v?.tracked ?? null, label: v?.label ?? null }];
  }));
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
  let current: State = state({
    config: c.config ?? {},
    leader: c.leader ?? true,
    relations: rels,
    ...(c.unitStatus ? { unitStatus: c.unitStatus as never } : {}),
    ...(c.appStatus ? { appStatus: c.appStatus as never } : {}),
    charmState: c.charmState ?? {},
    openedPorts: c.openedPorts ?? {},
    secrets: (c.secrets ?? []) as readonly SecretState[],
  });
  const event = testEvent(c, rels);
  const isAction = context(c).kind === 'action';
  const seen: Omit<Observed, 'relations' | 'unitStatus' | 'appStatus' | 'workloadVersion' | 'charmState' | 'openedPorts' | 'action' | 'secrets'> = { outputs: [], logs: [], statusHistory: [], calls: [] };
  let backend: MemoryBackend | undefined;
  const contexts = [{ change: [] as readonly ModelChange[], steps: c.steps }, ...(c.then ?? [])];
  for (const ctx of contexts) {
    for (const change of ctx.change) current = applyToState(current, change);
    backend = new MemoryBackend(current, UNIT, event.action ? { params: { ...event.action.params } } : undefined, { ...event.env, JUJU_MODEL_UUID: MODEL_UUID });
    for (const step of ctx.steps) {
      const r = backend.runTool({ tool: step.tool, args: step.args, ...(step.stdin !== undefined ? { input: step.stdin } : {}) });
      seen.outputs.push({ stdout: r.stdout, stderr: r.stderr, exitCode: r.code });
    }
    seen.logs.push(...backend.journal.flatMap((e) => (e.kind === 'log' ? [{ level: e.level, message: e.message, ...(e.relation !== undefined ? { relation: e.relation } : {}) }] : [])));
    seen.statusHistory.push(...backend.journal.flatMap((e) => (e.kind === 'status' ? [{ application: e.application, status: e.status, message: e.message }] : [])));
    seen.calls.push(...backend.recorded.calls.map((k) => ({ tool: k.tool, argv: [...k.argv], stdin: k.stdin })));
    current = backend.outputState((c.hookExit ?? 0) === 0);
  }
  const out = current;
  return {
    ...seen,
    relations: Object.fromEntries(out.relations.map((r) => [`${r.endpoint}:${r.id}`, { 'local-unit': r.localUnitData, 'local-app': r.localAppData }])),
    unitStatus: { ...out.unitStatus },
    appStatus: { ...out.appStatus },
    workloadVersion: out.workloadVersion,
    charmState: { ...out.charmState },
    openedPorts: structuredClone(out.openedPorts ?? {}) as Record<string, string[]>,
    action: isAction ? { results: backend!.recorded.actionResults, logs: backend!.recorded.actionLogs, failed: backend!.recorded.actionFailure ?? null } : null,
    secrets: secretsSeen(c, (id) => out.secrets?.find((s) => s.id === id)),
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
  const u = createUnit({ charmDir: driverCharm(), unitName: UNIT, modelUuid: MODEL_UUID, config: c.config ?? {}, leader: c.leader ?? true, relations: c.relations ?? [], secrets: c.secrets ?? [] });
  units.push(u);
  const put = (rel: string, content: string) => {
    mkdirSync(path.dirname(path.join(u.jujuDir, rel)), { recursive: true });
    writeFileSync(path.join(u.jujuDir, rel), content);
  };
  if (c.unitStatus) put('state/unit-status.json', JSON.stringify(c.unitStatus));
  if (c.appStatus) put('state/app-status.json', JSON.stringify(c.appStatus));
  if (c.charmState) put('state/charm-state.json', JSON.stringify(c.charmState));
  if (c.openedPorts) put('state/opened-ports.json', JSON.stringify(c.openedPorts));
  const ctx = context(c);
  const outputs: Output[] = [];
  const results: Awaited<ReturnType<SimUnit['dispatch']>>[] = [];
  const contexts = [{ change: [] as readonly ModelChange[], steps: c.steps }, ...(c.then ?? [])];
  for (const [n, later] of contexts.entries()) {
    for (const change of later.change) {
      if ('grant' in change) u.grantSecret(change.grant);
      else if ('revoke' in change) u.revokeSecret(change.revoke);
      else if ('update' in change) u.updateSecret(change.update, change.content);
      else u.removeSecret(change.remove);
    }
    const steps = path.join(u.dir, `steps-${n}.json`);
    const outFile = path.join(u.dir, `outputs-${n}.json`);
    writeFileSync(steps, JSON.stringify(later.steps.map((s) => ({ tool: s.tool, args: s.args, stdin: s.stdin ?? '' }))));
    const env = { CONFORMANCE_STEPS: steps, CONFORMANCE_OUT: outFile, CONFORMANCE_EXIT: String(c.hookExit ?? 0) };
    const r =
      ctx.kind === 'action'
        ? await u.dispatch({ action: ctx.name, params: ctx.params ?? {} }, { env })
        : ctx.kind === 'relation'
          ? await u.dispatch(`${ctx.endpoint}-relation-${ctx.phase}`, { env, relation: { id: ctx.id, ...(ctx.remoteUnit !== undefined ? { remoteUnit: ctx.remoteUnit } : {}) } })
          : await u.dispatch(ctx.name ?? 'update-status', { env });
    if (r.code !== (c.hookExit ?? 0)) throw new Error(`the driver exited ${r.code}: ${r.stderr}`);
    outputs.push(...(JSON.parse(readFileSync(outFile, 'utf8')) as Output[]));
    results.push(r);
  }
  const r = results.at(-1)!;
  const rels = u.relations();
  const model = u.secrets();
  return {
    outputs,
    relations: Object.fromEntries(Object.entries(rels).map(([k, v]) => [k, { 'local-unit': v['local-unit'], 'local-app': v['local-app'] }])),
    unitStatus: u.unitStatus(),
    appStatus: u.appStatus(),
    workloadVersion: u.workloadVersion(),
    charmState: u.charmState(),
    openedPorts: u.openedPorts(),
    action: ctx.kind === 'action' ? { results: r.actionResults ?? {}, logs: r.actionLogs, failed: r.actionFailed ?? null } : null,
    logs: results.flatMap((x) => x.logs.map((l) => ({ level: l.level, message: l.message, ...(l.relation !== undefined ? { relation: l.relation } : {}) }))),
    statusHistory: results.flatMap((x) => x.statusHistory.map((s) => ({ application: s.application, status: s.status, message: s.message }))),
    calls: results.flatMap((x) => x.calls.map((k) => ({ tool: k.tool, argv: k.argv, stdin: k.stdin }))),
    secrets: secretsSeen(c, (id) => {
      const s = model[id.split(/[:/]/).at(-1)!];
      if (!s) return undefined;
      return s.owner ? { label: s.label } : { tracked: s.consumers[UNIT]?.revision, label: s.consumers[UNIT]?.label };
    }),
  };
}

export function cleanupProcesses(): void {
  for (const u of units.splice(0)) u.cleanup();
  if (charmDir) rmSync(charmDir, { recursive: true, force: true });
  charmDir = undefined;
}
