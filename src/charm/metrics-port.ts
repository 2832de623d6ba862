// Whether the metrics-port is held by systemd for the exporter, from the kernel's socket
// tables (/proc/net/tcp, tcp6) and systemd's open files (/proc/1/fd): no process is started and
// nothing is bound, so a hook can ask on every status. systemd's .socket unit for the exporter
// binds 127.0.0.1:<metrics-port>; another process listening there first (on 127.0.0.1, 0.0.0.0 or
// ::) keeps it from binding, and would be scraped in the exporter's place.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { EXPORTER_SOCKET, METRICS_HOST } from './paths.js';

/** A listening TCP socket, as /proc/net/tcp{,6} lists it. */
export interface Listener {
  /** The local address, as the kernel writes it (hex, host byte order per 32-bit word). */
  readonly address: string;
  readonly port: number;
  readonly uid: number;
  readonly inode: number;
}

const LISTEN = '0A';

/** The listening sockets of one /proc/net/tcp or tcp6 text. */
export function parseListeners(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [address, port] = f[1]!.split(':');
    out.push({ address: address!.toUpperCase(), port: parseInt(port!, 16), uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

/**
 * Local addresses a socket bound on 127.0.0.1:<port> collides with, as the kernel writes them on
 * a little-endian machine (amd64, arm64): 127.0.0.1 and 0.0.0.0; ::, and both as IPv4-mapped
 * IPv6 addresses. [::1] does not collide, and nobody scrapes it.
 */
const BLOCKING = new Set(['0100007F', '00000000', '0'.repeat(32), `${'0'.repeat(16)}FFFF00000100007F`, `${'0'.repeat(16)}FFFF000000000000`]);

/** The socket inodes a process holds (readable by root, or by the process's own user); undefined when they cannot be read. */
function socketInodes(proc: string, pid: number): Set<number> | undefined {
  const inodes = new Set<number>();
  const dir = path.join(proc, String(pid), 'fd');
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(path.join(dir, fd)));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

export interface PortCheckOptions {
  /** Where proc is mounted (a test's host root, or another /proc). */
  readonly proc?: string;
  /** The process that holds the exporter's socket: systemd, pid 1. */
  readonly holderPid?: number;
}

/**
 * Who listens where the exporter's socket must (127.0.0.1:<port>): the holder (systemd: the
 * exporter has its port), other processes (their uids), nobody (the socket is not active), or
 * unknown (the kernel's tables or the holder's files cannot be read).
 */
export type MetricsPortState = { readonly kind: 'ours' | 'free' | 'unknown' } | { readonly kind: 'taken'; readonly uids: readonly number[] };

export function metricsPortState(port: number, opts: PortCheckOptions = {}): MetricsPortState {
  const proc = opts.proc ?? '/proc';
  const listeners: Listener[] = [];
  let tables = 0;
  for (const table of ['tcp', 'tcp6']) {
    try {
      listeners.push(...parseListeners(readFileSync(path.join(proc, 'net', table), 'utf8')));
      tables++;
    } catch {
      // no IPv6, or no /proc
    }
  }
  if (!tables) return { kind: 'unknown' };
  const blocking = listeners.filter((l) => l.port === port && BLOCKING.has(l.address));
  if (!blocking.length) return { kind: 'free' };
  const ours = socketInodes(proc, opts.holderPid ?? 1);
  if (!ours) return { kind: 'unknown' };
  // The holder listening there: the exporter has the port, whatever else listens (say on [::], IPv6 only).
  if (blocking.some((l) => ours.has(l.inode))) return { kind: 'ours' };
  return { kind: 'taken', uids: [...new Set(blocking.map((l) => l.uid))] };
}

/**
 * The status text when the exporter cannot have its port: another process listens on
 * 127.0.0.1:<port> (named with its uid), or nothing does (systemd's socket is not active).
 * undefined when systemd holds it, or when that cannot be known.
 */
export function metricsPortProblem(port: number, opts: PortCheckOptions = {}): string | undefined {
  const state = metricsPortState(port, opts);
  if (state.kind === 'taken') {
    return `metrics-port ${port} is taken by another process (uid ${state.uids.join(', ')}) on ${METRICS_HOST}: the exporter cannot listen there; stop that process or set another metrics-port`;
  }
  if (state.kind === 'free') return `the exporter is not listening on ${METRICS_HOST}:${port}: ${EXPORTER_SOCKET} is not active (systemctl status ${EXPORTER_SOCKET})`;
  return undefined;
}
