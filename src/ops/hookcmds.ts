// The exact argv of every hook tool the framework uses, as ops builds them
// (docs/juju-hook-contract.md §4). Pure functions: the runner spawns, these only spell.

/** The statuses a charm may set (status-set); Juju's own are also unknown and error. */
export const STATUS_NAMES = ['maintenance', 'blocked', 'waiting', 'active'] as const;
export type StatusName = (typeof STATUS_NAMES)[number];
export const isStatusName = (s: unknown): s is StatusName => (STATUS_NAMES as readonly unknown[]).includes(s);
export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

export interface ToolCall {
  readonly tool: string;
  readonly args: readonly string[];
  /** Sent on stdin (relation data goes here, never in argv). */
  readonly input?: string;
}

const pyBool = (b: boolean) => (b ? 'True' : 'False');

/** Which secret a secret tool names: by id (URI), by label, or both (then the label is set for this unit). */
export interface SecretRef {
  readonly id?: string | undefined;
  readonly label?: string | undefined;
}

export const hookcmds = {
  configGet: (): ToolCall => ({ tool: 'config-get', args: ['--format=json'] }),
  statusSet: (status: StatusName, message: string, application: boolean): ToolCall => ({
    tool: 'status-set',
    args: [`--application=${pyBool(application)}`, status, '--', message],
  }),
  statusGet: (application: boolean): ToolCall => ({
    tool: 'status-get',
    args: ['--include-data', '--format=json', `--application=${application ? 'true' : 'false'}`],
  }),
  jujuLog: (level: LogLevel, message: string): ToolCall => ({
    tool: 'juju-log',
    args: ['--log-level', level, '--', message],
  }),
  isLeader: (): ToolCall => ({ tool: 'is-leader', args: ['--format=json'] }),
  actionGet: (): ToolCall => ({ tool: 'action-get', args: ['--format=json'] }),
  actionSet: (flat: Readonly<Record<string, string>>): ToolCall => ({
    tool: 'action-set',
    args: Object.entries(flat).map(([k, v]) => `${k}=${v}`),
  }),
  actionLog: (message: string): ToolCall => ({ tool: 'action-log', args: ['--', message] }),
  actionFail: (message: string): ToolCall => ({ tool: 'action-fail', args: ['--', message] }),
  relationIds: (endpoint: string): ToolCall => ({ tool: 'relation-ids', args: [endpoint, '--format=json'] }),
  relationList: (relationId: string, app = false): ToolCall => ({
    tool: 'relation-list',
    args: app ? ['--format=json', '--app', '-r', relationId] : ['--format=json', '-r', relationId],
  }),
  relationGet: (relationId: string, member: string, app: boolean): ToolCall => ({
    tool: 'relation-get',
    args: app ? ['--format=json', '-r', relationId, '--app', '-', member] : ['--format=json', '-r', relationId, '-', member],
  }),
  relationSet: (relationId: string, data: Readonly<Record<string, string>>, app: boolean): ToolCall => ({
    tool: 'relation-set',
    args: app ? ['-r', relationId, '--app', '--file', '-'] : ['-r', relationId, '--file', '-'],
    input: JSON.stringify(data),
  }),
  applicationVersionSet: (version: string): ToolCall => ({ tool: 'application-version-set', args: ['--', version] }),
  /**
   * `secret-get <id> [--label L] [--refresh | --peek] --format=json`, or `secret-get --label L
   * ... --format=json` (ops' order). The content comes back on stdout, never in argv.
   */
  secretGet: (ref: SecretRef, mode?: 'refresh' | 'peek'): ToolCall => ({
    tool: 'secret-get',
    args: [
      ...(ref?.id !== undefined ? [ref.id] : []),
      ...(ref?.label !== undefined ? ['--label', ref.label] : []),
      ...(mode === 'refresh' ? ['--refresh'] : mode === 'peek' ? ['--peek'] : []),
      '--format=json',
    ],
  }),
  /** `secret-info-get <id> --format=json` or `secret-info-get --label L --format=json` (the owner's view). */
  secretInfoGet: (ref: SecretRef): ToolCall => ({
    tool: 'secret-info-get',
    args: [...(ref?.id !== undefined ? [ref.id] : ref?.label !== undefined ? ['--label', ref.label] : []), '--format=json'],
  }),
} as const;
