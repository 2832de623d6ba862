// The exporter's command line (see main.ts).
import { parseArgs } from 'node:util';

import { METRICS_DIR as DEFAULT_STATE_DIR, METRICS_HOST as DEFAULT_HOST } from '../shared/metrics-files.js';

/** The collector scrapes the exporter on the same machine (127.0.0.1); nothing needs it from elsewhere. */
export { METRICS_DIR as DEFAULT_STATE_DIR, METRICS_HOST as DEFAULT_HOST } from '../shared/metrics-files.js';
export const USAGE = 'usage: exporter.js --port <port> [--host <address>] [--state-dir <dir>]';

export type CommandLine = { kind: 'run'; port: number; host: string; stateDir: string } | { kind: 'help' } | { kind: 'error'; message: string };

export function parseCommandLine(args: string[]): CommandLine {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { port: { type: 'string' }, host: { type: 'string' }, 'state-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help) return { kind: 'help' };
  if (values.port === undefined) return { kind: 'error', message: '--port is required' };
  if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) return { kind: 'error', message: `--port must be 0-65535, not ${JSON.stringify(values.port)}` };
  const host = values.host ?? DEFAULT_HOST;
  if (host === '') return { kind: 'error', message: '--host must not be empty' };
  const stateDir = values['state-dir'] ?? DEFAULT_STATE_DIR;
  if (stateDir === '') return { kind: 'error', message: '--state-dir must not be empty' };
  return { kind: 'run', port: Number(values.port), host, stateDir };
}

/** The first socket systemd passes (sd_listen_fds(3)). */
export const LISTEN_FDS_START = 3;

export type Activation = { kind: 'none' } | { kind: 'socket'; fd: number } | { kind: 'error'; message: string };

/**
 * The socket systemd holds for the exporter (its .socket unit), when it started this process with
 * one: LISTEN_FDS=1 and LISTEN_PID this process (else the variables were meant for another one).
 */
export function socketActivation(env: Readonly<Record<string, string | undefined>>, pid: number): Activation {
  if (env.LISTEN_PID === undefined || env.LISTEN_PID !== String(pid)) return { kind: 'none' };
  if (env.LISTEN_FDS !== '1') return { kind: 'error', message: `systemd passed LISTEN_FDS=${JSON.stringify(env.LISTEN_FDS ?? '')}: the exporter takes exactly one socket (ListenStream= in its .socket unit)` };
  return { kind: 'socket', fd: LISTEN_FDS_START };
}
