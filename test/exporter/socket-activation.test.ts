// The exporter under systemd's socket activation (issue 22 item 6): systemd binds 127.0.0.1:<port>
// (the .socket unit) and starts the exporter with that socket on fd 3, LISTEN_FDS=1 and LISTEN_PID
// its pid. The exporter serves on that socket instead of binding its own, so while it restarts
// the port stays bound and no other process can take it. Here the test plays systemd's part.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketActivation } from '../../src/exporter/cli.js';
import { SOCKET_ACTIVATE, buildExporter, listeningFd, parseExposition, startExporter, stopAllExporters, tempDir, writeState } from './exporter.js';

const M = 'github_runner_image_builder';
let file: string;
let buildDir: string;
let stateDir: string;

beforeAll(async () => {
  ({ file, dir: buildDir } = await buildExporter());
  stateDir = tempDir('exporter-state');
  writeState(stateDir, 'unit.json', { arch: 'x64', bases: ['noble'], leader: true, interval_hours: 6, schedule_start: 1, images: {} });
});
afterAll(async () => {
  await stopAllExporters();
  for (const d of [buildDir, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
});

/** A listening socket on a free 127.0.0.1 port, as a .socket unit's ListenStream= gives. */
async function listeningSocket(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Whether another process could bind 127.0.0.1:<port> now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('socket activation', () => {
  it('serves on the socket passed as fd 3 (LISTEN_FDS=1, LISTEN_PID its own), not on one of its own', async () => {
    const { server, port } = await listeningSocket();
    // The unit's command line names the same port: an exporter that bound it itself would fail (EADDRINUSE).
    const exporter = await startExporter(file, stateDir, ['--port', String(port)], { socket: server });
    server.close(); // the exporter's copy is the only one left
    expect(exporter.stdout()).toBe(`exporter: listening on http://127.0.0.1:${port}/metrics (socket from systemd), state dir ${stateDir}\n`);
    expect(exporter.port).toBe(port);
    const r = await exporter.get();
    expect(r.status).toBe(200);
    expect(parseExposition(r.body).get(`${M}_leader{arch="x64"}`)).toBe(1);
    expect(await exporter.stop()).toEqual({ code: 0, signal: null });
  });

  it('a restart never frees the port: the supervisor holds the socket, the next exporter serves on it', async () => {
    const { server, port } = await listeningSocket();
    // systemd's part: hold the socket (fd 3, never accepting) and start the exporter again when it ends.
    const script = `while :; do ${SOCKET_ACTIVATE.slice(0, 2).join(' ')} '${SOCKET_ACTIVATE[2]}' sh "$@"; done`;
    const supervisor = spawn('/bin/sh', ['-c', script, 'sh', process.execPath, file, '--port', String(port), '--state-dir', stateDir], {
      stdio: ['ignore', 'pipe', 'pipe', listeningFd(server)],
      detached: true,
    });
    server.close();
    let out = '';
    const starts = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => ((out.match(/\(socket from systemd\)/g)?.length ?? 0) >= n ? resolve() : undefined);
        supervisor.stdout!.on('data', (d: Buffer) => ((out += d.toString()), check()));
        check();
      });
    const exporterPid = () => Number(readFileSync(`/proc/${supervisor.pid}/task/${supervisor.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    const scrape = () =>
      new Promise<number>((resolve, reject) =>
        net
          .connect(port, '127.0.0.1', function (this: net.Socket) {
            this.end('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
          })
          .on('data', (d) => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString())?.[1])))
          .on('error', reject),
      );
    try {
      await starts(1);
      expect(await scrape()).toBe(200);
      const first = exporterPid();
      const ended = new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          try {
            readFileSync(`/proc/${first}/stat`);
          } catch {
            clearInterval(poll);
            resolve();
          }
        }, 20);
      });
      process.kill(first, 'SIGKILL');
      await ended;
      // Between the two exporters, and after: the port is held.
      expect(await canBind(port)).toBe(false);
      await starts(2);
      expect(exporterPid()).not.toBe(first);
      expect(await scrape()).toBe(200);
      expect(await canBind(port)).toBe(false);
    } finally {
      process.kill(-supervisor.pid!, 'SIGKILL');
    }
  });

  it('takes the socket only when LISTEN_PID is its own and LISTEN_FDS is 1', () => {
    expect(socketActivation({}, 42)).toEqual({ kind: 'none' });
    expect(socketActivation({ LISTEN_FDS: '1' }, 42)).toEqual({ kind: 'none' });
    expect(socketActivation({ LISTEN_FDS: '1', LISTEN_PID: '41' }, 42)).toEqual({ kind: 'none' }); // meant for its parent
    expect(socketActivation({ LISTEN_FDS: '1', LISTEN_PID: '42' }, 42)).toEqual({ kind: 'socket', fd: 3 });
    expect(socketActivation({ LISTEN_FDS: '2', LISTEN_PID: '42' }, 42)).toMatchObject({ kind: 'error', message: expect.stringContaining('exactly one socket') });
  });
});
