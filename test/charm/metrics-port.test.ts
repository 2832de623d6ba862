// metricsPortProblem on this machine's real /proc (issue 22 item 6): a process other than the one
// holding the exporter's socket (systemd, pid 1, in production; a stand-in child here) listening
// where the socket must, 127.0.0.1:<metrics-port>, is named in a status text with the port; so is
// nobody listening there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { metricsPortProblem, metricsPortState, parseListeners } from '../../src/charm/metrics-port.js';
import { listeningFd } from '../exporter/exporter.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function listen(host: string, port = 0): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ port, host }, resolve));
  cleanups.push(() => server.close());
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A free port on 127.0.0.1 (and, in practice, on the other addresses). */
async function freePort(): Promise<number> {
  const { server, port } = await listen('127.0.0.1');
  await new Promise((r) => server.close(r));
  return port;
}

/** systemd's part: a process holding the listening socket as its fd 3 (never accepting); the test closes its own copy. */
async function heldBySystemdStandIn(server: net.Server): Promise<ChildProcess> {
  const holder = spawn('sleep', ['600'], { stdio: ['ignore', 'ignore', 'ignore', listeningFd(server)] });
  cleanups.push(() => holder.kill('SIGKILL'));
  await new Promise((r) => holder.once('spawn', r));
  await new Promise((r) => server.close(r));
  return holder;
}

const uid = process.getuid!();

describe('metricsPortProblem', () => {
  it('names the port and the uid when another process listens on 127.0.0.1:<port> first', async () => {
    const { port } = await listen('127.0.0.1');
    expect(metricsPortState(port)).toEqual({ kind: 'taken', uids: [uid] });
    expect(metricsPortProblem(port)).toBe(`metrics-port ${port} is taken by another process (uid ${uid}) on 127.0.0.1: the exporter cannot listen there; stop that process or set another metrics-port`);
  });

  it('also on 0.0.0.0 and on [::] (both keep 127.0.0.1 from binding)', async () => {
    // [::] without IPV6_V6ONLY (Linux's default) takes 127.0.0.1 too.
    for (const host of ['0.0.0.0', '::']) {
      const { port } = await listen(host);
      expect([host, metricsPortProblem(port)]).toEqual([host, expect.stringContaining(`metrics-port ${port} is taken by another process`)]);
    }
  });

  it('says the exporter is not listening when nothing listens there (systemd\'s socket is not active), [::1] aside', async () => {
    const port = await freePort();
    const notListening = `the exporter is not listening on 127.0.0.1:${port}: github-runner-image-builder-exporter.socket is not active (systemctl status github-runner-image-builder-exporter.socket)`;
    expect(metricsPortState(port)).toEqual({ kind: 'free' });
    expect(metricsPortProblem(port)).toBe(notListening);
    // Nobody scrapes [::1], and it does not keep 127.0.0.1 from binding.
    const v6 = await listen('::1', port).catch(() => undefined);
    if (v6) expect(metricsPortProblem(port)).toBe(notListening);
  });

  it('nothing when the socket is the one the holder (systemd) has', async () => {
    const { server, port } = await listen('127.0.0.1');
    const holder = await heldBySystemdStandIn(server);
    expect(metricsPortState(port, { holderPid: holder.pid! })).toEqual({ kind: 'ours' });
    expect(metricsPortProblem(port, { holderPid: holder.pid! })).toBeUndefined();
    // Seen from a holder that does not have it: taken.
    expect(metricsPortProblem(port, { holderPid: process.pid })).toContain(`metrics-port ${port} is taken`);
  });

  it('nothing known when the kernel tables or the holder\'s files cannot be read (a test host root without /proc)', async () => {
    const dir = path.join(tmpdir(), `no-proc-${process.pid}`);
    mkdirSync(path.join(dir, 'net'), { recursive: true });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(metricsPortState(9110, { proc: path.join(dir, 'missing') })).toEqual({ kind: 'unknown' });
    expect(metricsPortProblem(9110, { proc: path.join(dir, 'missing') })).toBeUndefined();
    // A listener, but the holder's open files cannot be read: systemd's or not is unknown.
    writeFileSync(path.join(dir, 'net/tcp'), ['header', '   0: 0100007F:2396 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1'].join('\n'));
    expect(metricsPortState(9110, { proc: dir })).toEqual({ kind: 'unknown' });
    expect(metricsPortProblem(9110, { proc: dir })).toBeUndefined();
  });

  it('parses the kernel table: listening sockets only, port from hex', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:2396 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0',
      '   1: 0100007F:2396 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0 20 4 30 10 -1',
    ].join('\n');
    expect(parseListeners(text)).toEqual([{ address: '0100007F', port: 9110, uid: 1000, inode: 4242 }]);
  });
});
