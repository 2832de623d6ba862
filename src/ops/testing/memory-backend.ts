// An in-memory Juju for charm unit tests: the framework's own ProcessBackend (same argv, same
// output parsing, same errors) over a tool runner that answers in process from juju-sim.ts, the
// rules the stand-in hook tools of the process-level tests also run. Relation data, charm state
// and ports are the context's own view until the run commits them (outputState).
import { ProcessBackend, type StatusValue } from '../backend.js';
import type { ToolCall } from '../hookcmds.js';
import type { LogLevel } from '../hookcmds.js';
import type { ToolResult } from '../runner.js';
import { applyEffects, fileArgument, parseSecretUri, runTool as simulate, type MutableSimState, type SimEffect, type SimRelation, type SimSecret } from './juju-sim.js';
import type { RelationState, SecretState, State } from './state.js';

/** A hook-tool call as the stand-in records it in calls.jsonl (without the context id). */
export interface RecordedCall {
  readonly tool: string;
  readonly argv: string[];
  /** What the tool read on stdin (`--file -`), else null. */
  readonly stdin: string | null;
}

export interface Recorded {
  unitStatusHistory: StatusValue[];
  appStatusHistory: StatusValue[];
  logs: { level: LogLevel; message: string }[];
  actionResults: Record<string, unknown>;
  actionLogs: string[];
  actionFailure?: string;
  workloadVersionHistory: string[];
  /** Every hook-tool call, in order, as the process-level stand-ins record them. */
  calls: RecordedCall[];
}

/** The relations of a State as the simulator keeps them, keyed "<endpoint>:<id>". */
function simRelations(relations: readonly RelationState[]): Record<string, SimRelation> {
  const out: Record<string, SimRelation> = {};
  for (const r of relations) {
    const remoteUnits: Record<string, Record<string, string>> = {};
    for (const u of r.remoteUnits) remoteUnits[u] = {};
    for (const [u, bag] of Object.entries(r.remoteUnitsData)) remoteUnits[u] = { ...bag };
    out[`${r.endpoint}:${r.id}`] = {
      endpoint: r.endpoint,
      id: r.id,
      app: r.remoteApp,
      units: [...r.remoteUnits],
      'local-unit': { ...r.localUnitData },
      'local-app': { ...r.localAppData },
      'remote-units': remoteUnits,
      'remote-app': { ...r.remoteAppData },
    };
  }
  return out;
}

/** The id part of a SecretState's URI (the key of the simulator's secrets). */
const secretKey = (s: SecretState): string => parseSecretUri(s.id)?.id ?? s.id;

/** The secrets of a State as the simulator (the controller) keeps them, for unit `unitName`. */
export function simSecrets(secrets: readonly SecretState[], unitName: string): Record<string, SimSecret> {
  const app = unitName.replace(/\/\d+$/, '');
  const out: Record<string, SimSecret> = {};
  for (const s of secrets) {
    const owner = s.owner === 'app' ? { kind: 'application' as const, name: app } : s.owner === 'unit' ? { kind: 'unit' as const, name: unitName } : undefined;
    out[secretKey(s)] = {
      ...(owner ? { owner } : {}),
      revisions: Object.fromEntries(s.revisions.map((content, i) => [String(i + 1), { ...content }])),
      grants: !owner && s.granted === false ? [] : [app],
      consumers: !owner && s.tracked !== undefined ? { [unitName]: { revision: s.tracked, ...(s.label !== undefined ? { label: s.label } : {}) } } : {},
      ...(owner && s.label !== undefined ? { label: s.label } : {}),
      ...(s.description !== undefined ? { description: s.description } : {}),
    };
  }
  return out;
}

export class MemoryBackend extends ProcessBackend {
  readonly recorded: Recorded = { unitStatusHistory: [], appStatusHistory: [], logs: [], actionResults: {}, actionLogs: [], workloadVersionHistory: [], calls: [] };
  /** Every effect of every successful call, in order (logs with their relation, statuses...). */
  readonly journal: SimEffect[] = [];
  /** The unit as the running context sees it. */
  readonly sim: MutableSimState;
  /** The hook environment the tools see (JUJU_UNIT_NAME, JUJU_CONTEXT_ID, relation and action variables). */
  readonly env: Readonly<Record<string, string | undefined>>;

  constructor(
    private readonly state: State,
    unitName: string,
    action?: { params: Record<string, unknown> },
    env: Readonly<Record<string, string | undefined>> = {},
  ) {
    const self: { backend?: MemoryBackend } = {};
    super({ run: (call) => self.backend!.runTool(call) });
    self.backend = this;
    this.env = {
      ...env,
      JUJU_UNIT_NAME: unitName,
      JUJU_CONTEXT_ID: env.JUJU_CONTEXT_ID || `${unitName}-memory`,
      ...(action && !env.JUJU_ACTION_NAME ? { JUJU_ACTION_NAME: 'action' } : {}),
    };
    this.sim = {
      config: structuredClone(state.config) as Record<string, unknown>,
      leader: state.leader,
      relations: simRelations(state.relations),
      charmState: { ...state.charmState },
      openedPorts: structuredClone(state.openedPorts ?? {}) as Record<string, string[]>,
      committedPorts: structuredClone(state.openedPorts ?? {}) as Record<string, string[]>,
      unitStatus: { ...state.unitStatus },
      appStatus: { ...state.appStatus },
      actionParams: structuredClone(action?.params ?? {}),
      actionResults: {},
      secrets: simSecrets(state.secrets ?? [], unitName),
      workloadVersion: state.workloadVersion,
    };
  }

  /** Runs one hook-tool call in this context, as the agent would; the framework's calls come here. */
  runTool(call: ToolCall): ToolResult {
    const stdin = call.input ?? '';
    this.recorded.calls.push({ tool: call.tool, argv: [...call.args], stdin: fileArgument(call.tool, call.args) === '-' ? stdin : null });
    const res = simulate(this.sim, { env: this.env, running: this.env.JUJU_CONTEXT_ID ?? '' }, { tool: call.tool, args: call.args, stdin });
    if (res.exitCode === 0) {
      applyEffects(this.sim, res.effects);
      for (const e of res.effects) this.record(e);
    }
    return { code: res.exitCode, stdout: res.outputFile === undefined ? res.stdout : '', stderr: res.stderr };
  }

  private record(e: SimEffect): void {
    this.journal.push(e);
    const r = this.recorded;
    switch (e.kind) {
      case 'status':
        (e.application ? r.appStatusHistory : r.unitStatusHistory).push({ status: e.status as StatusValue['status'], message: e.message });
        break;
      case 'log':
        r.logs.push({ level: e.level as LogLevel, message: e.message });
        break;
      case 'action-results':
        r.actionResults = structuredClone(e.results);
        break;
      case 'action-log':
        r.actionLogs.push(e.message);
        break;
      case 'action-fail':
        r.actionFailure = e.message;
        break;
      case 'workload-version':
        r.workloadVersionHistory.push(e.version);
        break;
      default:
        break;
    }
  }

  get unitStatus(): StatusValue {
    return { status: (this.sim.unitStatus.status ?? 'unknown') as StatusValue['status'], message: this.sim.unitStatus.message ?? '' };
  }
  get appStatus(): StatusValue {
    return { status: (this.sim.appStatus.status ?? 'unknown') as StatusValue['status'], message: this.sim.appStatus.message ?? '' };
  }
  get workloadVersion(): string {
    return this.sim.workloadVersion;
  }
  /** Relation data as this context sees it (with its uncommitted writes), in the input's order. */
  get relations(): RelationState[] {
    return this.state.relations.map((r) => {
      const now = this.sim.relations[`${r.endpoint}:${r.id}`];
      return { ...structuredClone(r), localUnitData: { ...now?.['local-unit'] }, localAppData: { ...now?.['local-app'] } };
    });
  }

  /** The secrets as the unit now sees them: what it tracks and its labels (never rolled back). */
  get secrets(): SecretState[] {
    const unit = this.env.JUJU_UNIT_NAME ?? '';
    return (this.state.secrets ?? []).map((s) => {
      const now = this.sim.secrets[secretKey(s)];
      const { tracked: _t, label: _l, ...rest } = structuredClone(s);
      if (!now) return rest;
      const mine = s.owner ? undefined : now.consumers[unit];
      const label = s.owner ? now.label : mine?.label;
      return { ...rest, ...(mine ? { tracked: mine.revision } : {}), ...(label !== undefined ? { label } : {}) };
    });
  }

  /**
   * The state after the context ends: statuses and the workload version as they are now (Juju
   * never rolls them back), and the secrets' tracking (secret-get takes effect at once);
   * relation data, charm state and opened ports as this context left them when it succeeded
   * (`ok`), else as they were.
   */
  outputState(ok: boolean): State {
    const stateIn = structuredClone(this.state);
    return {
      ...stateIn,
      relations: ok ? this.relations : stateIn.relations,
      charmState: ok ? { ...this.sim.charmState } : { ...stateIn.charmState },
      openedPorts: ok ? structuredClone(this.sim.openedPorts) : { ...stateIn.openedPorts },
      unitStatus: this.unitStatus,
      appStatus: this.appStatus,
      workloadVersion: this.workloadVersion,
      ...(stateIn.secrets !== undefined ? { secrets: this.secrets } : {}),
    };
  }
}
