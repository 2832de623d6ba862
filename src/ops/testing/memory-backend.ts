// An in-memory Juju for charm unit tests: answers every Backend call from a State and applies
// Juju's rules (leadership checks, action-set keys, transactional relation data).
import type { Backend, Databag, StatusValue } from '../backend.js';
import { HookToolError, RelationNotFoundError } from '../errors.js';
import type { LogLevel, StatusName } from '../hookcmds.js';
import type { RelationState, State } from './state.js';

const KEY_SEGMENT = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const RESERVED = new Set(['stdout', 'stdout-encoding', 'stderr', 'stderr-encoding']);

export interface Recorded {
  unitStatusHistory: StatusValue[];
  appStatusHistory: StatusValue[];
  logs: { level: LogLevel; message: string }[];
  actionResults: Record<string, unknown>;
  actionLogs: string[];
  actionFailure?: string;
  workloadVersionHistory: string[];
}

export class MemoryBackend implements Backend {
  readonly recorded: Recorded = { unitStatusHistory: [], appStatusHistory: [], logs: [], actionResults: {}, actionLogs: [], workloadVersionHistory: [] };
  /** Relation data as this hook sees it; committed to the output state only on success. */
  readonly relations: RelationState[];
  unitStatus: StatusValue;
  appStatus: StatusValue;
  workloadVersion: string;

  constructor(
    private readonly state: State,
    private readonly unitName: string,
    private readonly action?: { params: Record<string, unknown> },
  ) {
    this.relations = structuredClone(state.relations) as RelationState[];
    this.unitStatus = state.unitStatus;
    this.appStatus = state.appStatus;
    this.workloadVersion = state.workloadVersion;
  }

  private fail(tool: string, args: string[], code: number, message: string, Type = HookToolError): never {
    throw new Type(tool, args, code, `ERROR ${message}\n`);
  }
  private rel(tool: string, ref: string): RelationState {
    const id = Number(ref.split(':').pop());
    const r = this.relations.find((x) => x.id === id);
    return r ?? this.fail(tool, ['-r', ref], 2, `invalid value "${ref}" for option -r: relation not found`, RelationNotFoundError);
  }
  private needAction(tool: string): { params: Record<string, unknown> } {
    return this.action ?? this.fail(tool, [], 1, 'not running an action');
  }

  configGet(): Record<string, unknown> {
    return structuredClone(this.state.config);
  }
  statusSet(status: StatusName, message: string, application: boolean): void {
    if (application && !this.state.leader) this.fail('status-set', ['--application=True'], 1, 'this unit is not the leader');
    const value = { status, message };
    if (application) {
      this.appStatus = value;
      this.recorded.appStatusHistory.push(value);
    } else {
      this.unitStatus = value;
      this.recorded.unitStatusHistory.push(value);
    }
  }
  statusGet(application: boolean): StatusValue {
    if (application && !this.state.leader) this.fail('status-get', ['--application=true'], 1, 'finding application status: this unit is not the leader');
    return application ? this.appStatus : this.unitStatus;
  }
  jujuLog(level: LogLevel, message: string): void {
    this.recorded.logs.push({ level, message });
  }
  isLeader(): boolean {
    return this.state.leader;
  }
  actionGet(): Record<string, unknown> {
    return structuredClone(this.needAction('action-get').params);
  }
  actionSet(flat: Readonly<Record<string, string>>): void {
    this.needAction('action-set');
    for (const [key, value] of Object.entries(flat)) {
      for (const seg of key.split('.')) {
        if (RESERVED.has(seg)) this.fail('action-set', [`${key}=...`], 2, `cannot set reserved action key "${key}"`);
        if (!KEY_SEGMENT.test(seg)) this.fail('action-set', [`${key}=...`], 2, `key "${key}" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods`);
      }
      let node = this.recorded.actionResults as Record<string, unknown>;
      const parts = key.split('.');
      for (const p of parts.slice(0, -1)) node = (node[p] = typeof node[p] === 'object' && node[p] ? node[p] : {}) as Record<string, unknown>;
      node[parts.at(-1)!] = value;
    }
  }
  actionLog(message: string): void {
    this.needAction('action-log');
    this.recorded.actionLogs.push(message);
  }
  actionFail(message: string): void {
    this.needAction('action-fail');
    this.recorded.actionFailure = message;
  }
  relationIds(endpoint: string): string[] {
    return this.relations.filter((r) => r.endpoint === endpoint).map((r) => `${r.endpoint}:${r.id}`).sort();
  }
  relationList(relationId: string): string[] {
    return [...this.rel('relation-list', relationId).remoteUnits];
  }
  relationRemoteApp(relationId: string): string {
    return this.rel('relation-list', relationId).remoteApp;
  }
  relationGet(relationId: string, member: string, app: boolean): Databag {
    const r = this.rel('relation-get', relationId);
    const localApp = this.unitName.split('/')[0];
    if (app) return { ...(member.split('/')[0] === localApp ? r.localAppData : r.remoteAppData) };
    if (member === this.unitName) return { ...r.localUnitData };
    return { ...(r.remoteUnitsData[member] ?? this.fail('relation-get', ['-r', relationId, '-', member], 1, `cannot read settings for unit "${member}" in relation "${relationId}": unit not found`)) };
  }
  relationSet(relationId: string, data: Readonly<Databag>, app: boolean): void {
    const r = this.rel('relation-set', relationId);
    if (app && !this.state.leader) this.fail('relation-set', ['-r', relationId, '--app'], 1, 'cannot write relation settings');
    const bag = app ? r.localAppData : r.localUnitData;
    for (const [k, v] of Object.entries(data)) {
      if (v === '') delete bag[k];
      else bag[k] = v;
    }
  }
  applicationVersionSet(version: string): void {
    this.workloadVersion = version;
    this.recorded.workloadVersionHistory.push(version);
  }
}
