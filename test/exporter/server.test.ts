// The bundled exporter as systemd runs it: its command line, its HTTP answers, and input meant to
// kill it (huge or malformed requests, connection floods, state files that are directories,
// FIFOs, symlinks or huge): it answers or drops the request and keeps serving /metrics.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HOST, DEFAULT_STATE_DIR } from '../../src/exporter/cli.js';
import { LIMITS } from '../../src/exporter/server.js';
import { buildExporter, parseExposition, removeState, startExporter, stopAllExporters, tempDir, writeState, type RunningExporter } from './exporter.js';
import { HANG_MS } from '../support/eventually.js';

const M = 'github_runner_image_builder';
let file: string;
let buildDir: string;
let stateDir: string;
let exporter: RunningExporter;

beforeAll(async () => {
  ({ file, dir: buildDir } = await buildExporter());
  stateDir = tempDir('exporter-state');
  writeState(stateDir, 'unit.json', { arch: 'x64', bases: ['noble'], leader: true, interval_hours: 6, schedule_start: 1, images: {} });
  exporter = await startExporter(file, stateDir);
});

afterAll(async () => {
  await stopAllExporters();
  for (const d of [buildDir, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const run = (args: string[]) => spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: HANG_MS });

/** Sends raw bytes on a new connection; resolves with what came back when the server closes it (every request here ends with the server closing). */
function raw(port: number, data: string | Buffer, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the exporter kept the connection open for ${HANG_MS} ms after ${JSON.stringify(String(data).slice(0, 80))}; it answered: ${got.slice(0, 200)}`));
    }, HANG_MS);
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.write(data, () => {
      if (opts.end) s.end();
    });
  });
}

async function stillServing() {
  expect(exporter.alive(), exporter.stderr()).toBe(true);
  const r = await exporter.get();
  expect(r.status).toBe(200);
  return parseExposition(r.body);
}

describe('the exporter command line', () => {
  it('needs --port, a valid one, and no unknown flags or arguments (exit 2, usage on stderr)', () => {
    for (const args of [[], ['--port'], ['--port', 'abc'], ['--port', '65536'], ['--port', '-1'], ['--port', '1', '--bogus'], ['--port', '1', 'extra'], ['--port', '1', '--host', ''], ['--port', '1', '--state-dir', '']]) {
      const r = run(args);
      expect([args, r.status]).toEqual([args, 2]);
      expect(r.stderr).toMatch(/^exporter: [\s\S]+\nusage: exporter\.js --port <port> \[--host <address>\] \[--state-dir <dir>\]\n$/);
      expect(r.stdout).toBe('');
    }
  });

  it('--help prints the usage and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: exporter\.js --port/);
  });

  it('exits 1 when the port is taken', async () => {
    const r = run(['--port', String(exporter.port)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`exporter: cannot listen on 127.0.0.1:${exporter.port}: EADDRINUSE\n`);
  });

  it('listens on 127.0.0.1 by default, reads the default state dir unless told, and exits 0 on SIGTERM', async () => {
    const other = await startExporter(file, stateDir);
    expect(other.stdout()).toBe(`exporter: listening on http://127.0.0.1:${other.port}/metrics, state dir ${stateDir}\n`);
    expect(await other.stop()).toEqual({ code: 0, signal: null });
    expect(DEFAULT_HOST).toBe('127.0.0.1');
    expect(DEFAULT_STATE_DIR).toBe('/var/lib/github-runner-image-builder-metrics');
    // Without --state-dir (the helper always passes one; this one is given twice: the last wins).
    const dflt = await startExporter(file, stateDir, ['--state-dir', DEFAULT_STATE_DIR]);
    expect(dflt.stdout()).toContain(`state dir ${DEFAULT_STATE_DIR}\n`);
    expect((await dflt.get()).status).toBe(200);
    await dflt.stop();
  });

  it('--host binds another address', async () => {
    const other = await startExporter(file, stateDir, ['--host', '127.0.0.2']);
    try {
      expect(other.stdout()).toContain(`http://127.0.0.2:${other.port}/metrics`);
      expect((await other.get()).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});

describe('the exporter over HTTP', () => {
  it('serves GET /metrics as text format 0.0.4, with or without a query string', async () => {
    for (const p of ['/metrics', '/metrics?x=1&name[]=up']) {
      const r = await exporter.get(p);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
      expect(parseExposition(r.body).get(`${M}_leader{arch="x64"}`)).toBe(1);
    }
  });

  it('answers HEAD /metrics without a body, 404 elsewhere, 405 for other methods on /metrics', async () => {
    const head = await exporter.get('/metrics', { method: 'HEAD' });
    expect([head.status, head.body]).toEqual([200, '']);
    for (const p of ['/', '/metrics/', '/metricsx', '/Metrics', '/../metrics', '//metrics', '/-/ready']) {
      expect([p, (await exporter.get(p)).status]).toEqual([p, 404]);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await exporter.get('/metrics', { method });
      expect([method, r.status, r.headers.allow]).toEqual([method, 405, 'GET, HEAD']);
    }
  });

  it('serves several requests on one kept-alive connection', async () => {
    const got = await raw(exporter.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(got.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 404', 'HTTP/1.1 200']);
  });
});

describe('input that must not kill the exporter', () => {
  it('a huge URL (1 MiB) and huge headers: refused (431), still serving', async () => {
    // The exporter answers 431 and closes while the client is still sending the rest; the kernel
    // may then reset the connection and drop the answer before the client reads it. Either way
    // the request is refused: never answered with anything else.
    const refused = /^(HTTP\/1\.1 431 [\s\S]*)?$/;
    expect(await raw(exporter.port, `GET /metrics?${'a'.repeat(1 << 20)} HTTP/1.1\r\nHost: x\r\n\r\n`)).toMatch(refused);
    const headers = Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'v'.repeat(50)}\r\n`).join('');
    expect(await raw(exporter.port, `GET /metrics HTTP/1.1\r\nHost: x\r\n${headers}\r\n`)).toMatch(refused);
    expect(LIMITS.maxHeaderSize).toBe(8192);
    await stillServing();
  });

  it('malformed requests: garbage bytes, bad versions, bad Content-Length, a body on GET, an early close', async () => {
    for (const data of [
      Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10]),
      'HELLO\r\n\r\n',
      'GET /metrics HTTP/9.9\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
      'GET /met\x00rics HTTP/1.1\r\n\r\n',
      'POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ]) {
      await raw(exporter.port, data, { end: true });
    }
    // A connection closed halfway through its headers.
    await new Promise<void>((resolve) => {
      const s = net.connect(exporter.port, '127.0.0.1', () => s.write('GET /metrics HTTP/1.1\r\nHo', () => (s.destroy(), resolve())));
      s.on('error', () => resolve());
    });
    await stillServing();
  });

  it('a flood of 200 idle connections, then closed: still serving', async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(exporter.port, '127.0.0.1', () => resolve(s));
            s.on('error', () => resolve(s));
          }),
      ),
    );
    for (const s of sockets) s.destroy();
    await stillServing();
  });

  it('64 idle connections held open (past the 32 allowed): scrapes are served, the scraper keeps its connection, the server closes the idle ones', async () => {
    // The scraper's kept-alive connection, one request answered.
    const scraper = net.connect(exporter.port, '127.0.0.1');
    scraper.setEncoding('latin1');
    let answers = '';
    const answered = (n: number) => new Promise<void>((resolve, reject) => {
      const check = () => ((answers.match(/^HTTP\/1\.1 200 /gm)?.length ?? 0) >= n ? resolve() : undefined);
      scraper.on('data', (d: string) => ((answers += d), check()));
      scraper.once('close', () => reject(new Error(`the scraper's connection was closed: ${answers}`)));
      check();
    });
    scraper.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered(1);

    // A local user's connections: connected (the kernel queues them in order), never a byte sent.
    const idle = await Promise.all(
      Array.from({ length: 2 * LIMITS.maxConnections }, () => new Promise<{ closed: Promise<void> }>((resolve, reject) => {
        const s = net.connect(exporter.port, '127.0.0.1', () => resolve({ closed }));
        const closed = new Promise<void>((r) => s.on('close', () => r()));
        s.on('error', () => {});
        s.once('error', reject);
      })),
    );
    // A new scrape connection, and the scraper's next request on its kept-alive one.
    expect((await exporter.get()).status).toBe(200);
    scraper.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered(2);
    scraper.destroy();
    // None is held for long: pushed out, or closed at the headers timeout (LIMITS.headersTimeoutMs).
    await Promise.all(idle.map((c) => c.closed));
    await stillServing();
  });

  it('state files that are a directory, a FIFO, a symlink to /dev/zero, 10 MiB of garbage: state_errors, logged once, still serving', async () => {
    const dir = tempDir('exporter-hostile');
    try {
      const other = await startExporter(file, dir);
      writeState(dir, 'unit.json', { arch: 'x64', bases: ['noble', 'jammy', 'focal'], leader: true });
      mkdirSync(path.join(dir, 'build-noble.json'));
      spawnSync('mkfifo', [path.join(dir, 'running.json')]);
      symlinkSync('/dev/zero', path.join(dir, 'build-jammy.json'));
      writeFileSync(path.join(dir, 'build-focal.json'), Buffer.alloc(10 << 20, 0x7b));
      for (let i = 0; i < 5; i++) {
        const r = await other.get();
        expect(r.status).toBe(200);
        const s = parseExposition(r.body);
        expect(s.get(`${M}_state_errors`)).toBe(4);
        expect(s.get(`${M}_leader{arch="x64"}`)).toBe(1);
      }
      // Logged when the problems change, not on every scrape.
      await other.waitForStderr('build-focal.json');
      expect(other.stderr().split('\n').filter(Boolean)).toEqual([
        `state file running.json in ${dir}: is not a regular file`,
        `state file build-noble.json in ${dir}: is a directory`,
        `state file build-jammy.json in ${dir}: cannot open: is a symlink`,
        `state file build-focal.json in ${dir}: is larger than 65536 bytes`,
      ]);
      for (const f of ['build-noble.json', 'running.json', 'build-jammy.json', 'build-focal.json']) removeState(dir, f);
      expect(parseExposition((await other.get()).body).get(`${M}_state_errors`)).toBe(0);
      await other.waitForStderr(`state files in ${dir} all read again\n`);
      // The state dir replaced by a file, then gone.
      rmSync(dir, { recursive: true });
      writeFileSync(dir, 'not a dir');
      expect(parseExposition((await other.get()).body).get(`${M}_state_errors`)).toBe(1);
      rmSync(dir);
      expect(parseExposition((await other.get()).body).get(`${M}_state_errors`)).toBe(0);
      expect(other.alive()).toBe(true);
      await other.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stays small: memory after 500 scrapes', async () => {
    writeState(stateDir, 'build-noble.json', { started: 3, succeeded: 2, failed: 1, consecutive_failures: 1, last_duration_seconds: 100, last_success_timestamp: 1 });
    const before = exporter.memory();
    for (let i = 0; i < 500; i++) expect((await exporter.get()).status).toBe(200);
    const after = exporter.memory();
    console.log(`exporter memory (KiB): at start of this test ${JSON.stringify(before)}, after 500 scrapes ${JSON.stringify(after)}`);
    // RssFile is mostly node's own binary, shared with every other node on the machine (the hooks').
    expect(after.rssAnon).toBeLessThan(40 * 1024);
    expect(after.vmRss).toBeLessThan(96 * 1024);
    await stillServing();
  });
});
