// src/charm/copies.ts: the copy request and result files (bounds, junk), and startCopies with the
// real sh loop, real flock and a stand-in copier (a small node script in the charm dir's
// dist/copier.js) and a stand-in juju-exec that records its arguments.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  MAX_COPY_FILE_BYTES,
  copyRequestText,
  isCopyRunning,
  parseCopyRequest,
  parseCopyResult,
  readCopyResult,
  recordGoneImageReplaced,
  startCopies,
  stopCopies,
  updateCopiesFile,
  type CopierContext,
  type CopyRequest,
  type CopyResult,
} from '../../src/charm/copies.js';
import { Host } from '../../src/charm/host.js';
import { COPY_LOCK_PATH, COPY_REQUEST_PATH, COPY_RESULT_PATH, COPY_SERVED_PATH, LOG_DIR, METRICS_DIR, STATE_DIR } from '../../src/charm/paths.js';
import { renderMetrics } from '../../src/exporter/metrics.js';
import { readState } from '../../src/exporter/state.js';
import { eventually } from '../support/eventually.js';
import { readJsonLines } from '../support/files.js';

const REQUEST: CopyRequest = {
  sourceCloud: 'builder',
  images: [
    { base: 'noble', id: '0b0e7c6a-1111-4111-8111-000000000001', name: 'ib-noble-x64' },
    { base: 'jammy', id: '0b0e7c6a-1111-4111-8111-000000000002', name: 'ib-jammy-x64' },
  ],
  clouds: ['runners-a_runner-a', 'runners-b_runner-b'],
  keep: 2,
  published: { 'runners-a_runner-a': ['0b0e7c6a-2222-4222-8222-000000000001'] },
};

const RESULT: CopyResult = {
  finishedAt: '2026-12-06T20:00:00.000Z',
  outcomes: [
    { cloud: 'runners-a_runner-a', base: 'noble', sourceId: REQUEST.images[0]!.id, image: { id: 'c0ffee00-0000-4000-8000-000000000001', name: 'ib-noble-x64', createdAt: '2026-12-06T19:59:00Z' }, bytes: 1024, durationMs: 1500 },
    { cloud: 'runners-b_runner-b', base: 'noble', sourceId: REQUEST.images[0]!.id, error: 'copying failed 3 times', durationMs: 900 },
    { cloud: 'runners-b_runner-b', base: 'jammy', sourceId: REQUEST.images[1]!.id, image: { id: 'c0ffee00-0000-4000-8000-000000000002', name: 'ib-jammy-x64', createdAt: '2026-12-06T19:59:00Z' }, bytes: 0, durationMs: 40, reused: true },
  ],
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A host root with the charm's layout, a charm dir and a stand-in juju-exec. */
function hostRoot(copierJs: string) {
  const root = mkdtempSync(path.join(tmpdir(), 'copies-'));
  dirs.push(root);
  for (const d of [STATE_DIR, LOG_DIR, METRICS_DIR]) mkdirSync(path.join(root, d), { recursive: true });
  const charmDir = path.join(root, 'charm');
  mkdirSync(path.join(charmDir, 'dist'), { recursive: true });
  writeFileSync(path.join(charmDir, 'dist', 'copier.js'), copierJs);
  const reports = path.join(root, 'reports');
  const jujuExec = path.join(root, 'juju-exec');
  // Records each call's arguments, one JSON array a line.
  writeFileSync(jujuExec, `#!/bin/sh\n"${process.execPath}" -e 'process.stdout.write(JSON.stringify(process.argv.slice(1)) + "\\n")' -- "$@" >> ${JSON.stringify(reports)}\n`);
  chmodSync(jujuExec, 0o755);
  const host = new Host({ PATH: process.env.PATH, CHARM_HOST_ROOT: root, JUJU_CONTEXT_ID: 'ib-0-hook-1', JUJU_CHARM_HTTPS_PROXY: 'http://proxy.example:3128' });
  const ctx: CopierContext = { node: process.execPath, charmDir, unitName: 'ib/0', jujuExec };
  const unit = { host, warn: () => {} };
  const reported = (): string[][] => readJsonLines<string[]>(reports);
  return { root, charmDir, host, ctx, unit, reported };
}

/**
 * A stand-in copier: records its run (argv, the env names it got, the request it read), waits
 * while <root>/hold exists, then marks the request it read as served. It does not look at the
 * request again: a request that changed meanwhile is the loop's to notice.
 */
const STAND_IN = `const fs = require('fs'), path = require('path');
const root = process.env.CHARM_HOST_ROOT;
const request = fs.readFileSync(path.join(root, ${JSON.stringify(COPY_REQUEST_PATH)}), 'utf8');
fs.appendFileSync(path.join(root, 'runs'), JSON.stringify({ argv: process.execArgv, env: Object.keys(process.env).sort(), request }) + '\\n');
const done = () => { fs.writeFileSync(path.join(root, ${JSON.stringify(COPY_SERVED_PATH)}), request); process.exit(0); };
const wait = () => (fs.existsSync(path.join(root, 'hold')) ? setTimeout(wait, 20) : done());
wait();
`;

/** A process's session id (from /proc/<pid>/stat), or undefined when it is gone. */
function sessionOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  } catch {
    return undefined;
  }
}

/** The processes of a session still running, from /proc. */
const sessionPids = (session: number) => readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && sessionOf(pid) === session);

const runsOf = (root: string) => readJsonLines<{ argv: string[]; env: string[]; request: string }>(path.join(root, 'runs'));

describe('the copy request', () => {
  it('round-trips through its text', () => {
    expect(parseCopyRequest(copyRequestText(REQUEST))).toEqual(REQUEST);
  });

  it.each<[string, unknown]>([
    ['not an object', [REQUEST]],
    ['a source cloud with a slash', { ...REQUEST, sourceCloud: '../etc' }],
    ['a consumer cloud with a slash', { ...REQUEST, clouds: ['a/b'] }],
    ['a consumer cloud twice', { ...REQUEST, clouds: ['a', 'a'] }],
    ['a base twice', { ...REQUEST, images: [REQUEST.images[0], REQUEST.images[0]] }],
    ['an id with a space', { ...REQUEST, images: [{ ...REQUEST.images[0], id: 'a b' }] }],
    ['a name with a newline', { ...REQUEST, images: [{ ...REQUEST.images[0], name: 'a\nb' }] }],
    ['keep 0', { ...REQUEST, keep: 0 }],
    ['keep 1.5', { ...REQUEST, keep: 1.5 }],
    ['published ids that are not ids', { ...REQUEST, published: { a: ['$(reboot)'] } }],
    ['published not an object', { ...REQUEST, published: [] }],
    ['no clouds list', { ...REQUEST, clouds: 'a' }],
  ])('refuses %s', (_what, value) => {
    const parsed = parseCopyRequest(JSON.stringify(value));
    expect(parsed).toHaveProperty('problems');
    expect((parsed as { problems: string[] }).problems.length).toBeGreaterThan(0);
    expect(() => copyRequestText(value as CopyRequest)).toThrow(/invalid copy request/);
  });

  it('refuses junk and more than 256 KiB, without quoting it', () => {
    expect(parseCopyRequest('{"sourceCloud": ')).toEqual({ problems: ['the request is not JSON'] });
    const big = JSON.stringify({ ...REQUEST, pad: 'x'.repeat(MAX_COPY_FILE_BYTES) });
    expect(parseCopyRequest(big)).toEqual({ problems: [`the request is larger than ${MAX_COPY_FILE_BYTES} bytes`] });
  });
});

describe('the copy result', () => {
  it('is read back as the copier wrote it', () => {
    const { host, root } = hostRoot('');
    writeFileSync(path.join(root, COPY_RESULT_PATH), JSON.stringify(RESULT));
    expect(readCopyResult(host)).toEqual(RESULT);
  });

  it('is undefined when absent, malformed, larger than 256 KiB or a symlink', () => {
    const { host, root } = hostRoot('');
    expect(readCopyResult(host)).toBeUndefined();
    const write = (value: unknown) => writeFileSync(path.join(root, COPY_RESULT_PATH), typeof value === 'string' ? value : JSON.stringify(value));
    write('not json');
    expect(readCopyResult(host)).toBeUndefined();
    write({ outcomes: RESULT.outcomes });
    expect(readCopyResult(host)).toBeUndefined();
    // Both a copy and an error; neither; an id that could be anything.
    for (const bad of [{ ...RESULT.outcomes[0], error: 'x' }, { ...RESULT.outcomes[1], error: undefined }, { ...RESULT.outcomes[0], image: { ...RESULT.outcomes[0]!.image, id: '../x' } }]) {
      write({ ...RESULT, outcomes: [bad] });
      expect(readCopyResult(host), JSON.stringify(bad)).toBeUndefined();
    }
    write({ ...RESULT, outcomes: [...RESULT.outcomes, { ...RESULT.outcomes[1], error: 'x'.repeat(MAX_COPY_FILE_BYTES) }] });
    expect(readCopyResult(host)).toBeUndefined();
    rmSync(path.join(root, COPY_RESULT_PATH));
    writeFileSync(path.join(root, 'elsewhere.json'), JSON.stringify(RESULT));
    symlinkSync(path.join(root, 'elsewhere.json'), path.join(root, COPY_RESULT_PATH));
    expect(readCopyResult(host)).toBeUndefined();
    expect(parseCopyResult(JSON.stringify(RESULT))).toEqual(RESULT);
  });
});

describe('startCopies and isCopyRunning (real sh loop and flock, stand-in copier and juju-exec)', () => {
  const holders: ChildProcess[] = [];
  afterEach(() => {
    // Each holder leads its own process group: end flock and the sleep it runs.
    for (const h of holders.splice(0)) process.kill(-h.pid!, 'SIGKILL');
  });

  it('starts the copier detached, which reports copies_done through juju-exec once the lock is released', async () => {
    const { root, host, ctx, unit, reported, charmDir } = hostRoot(STAND_IN);
    expect(await isCopyRunning(host)).toBe(false);

    expect(await startCopies(unit, REQUEST, ctx)).toBe('started');

    const [report] = await eventually('the report', () => (reported().length ? reported() : undefined));
    expect(report).toEqual(['ib/0', `JUJU_DISPATCH_PATH=hooks/copies_done '${charmDir}/dispatch'`]);
    expect(await isCopyRunning(host)).toBe(false);
    const request = path.join(root, COPY_REQUEST_PATH);
    expect(statSync(request).mode & 0o777).toBe(0o600);
    const runs = runsOf(root);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.request).toBe(readFileSync(request, 'utf8'));
    expect(runs[0]!.argv).toEqual(['--expose-gc']);
    // No hook context reaches it (juju-exec refuses one); the proxy does, through the environment.
    expect(runs[0]!.env).not.toContain('JUJU_CONTEXT_ID');
    expect(runs[0]!.env).toContain('JUJU_CHARM_HTTPS_PROXY');
  });

  it('queues a request while a copier runs: the running copier serves it next, with one report and no second copier', async () => {
    const { root, host, ctx, unit, reported } = hostRoot(STAND_IN);
    writeFileSync(path.join(root, 'hold'), '');
    expect(await startCopies(unit, REQUEST, ctx)).toBe('started');
    await eventually('the first run', () => runsOf(root).length === 1);
    expect(await isCopyRunning(host)).toBe(true);

    const newer = { ...REQUEST, clouds: ['runners-a_runner-a'] };
    expect(await startCopies(unit, newer, ctx)).toBe('queued');
    rmSync(path.join(root, 'hold'));

    await eventually('the report', () => reported().length > 0);
    const runs = runsOf(root);
    expect(runs.map((r) => JSON.parse(r.request) as CopyRequest)).toEqual([REQUEST, newer]);
    expect(readFileSync(path.join(root, COPY_SERVED_PATH), 'utf8')).toBe(copyRequestText(newer));
    expect(reported()).toHaveLength(1);
  });

  it("returns 'queued' while another process holds the copy lock, and starts nothing", async () => {
    const { root, host, ctx, unit } = hostRoot(STAND_IN);
    writeFileSync(path.join(root, COPY_LOCK_PATH), '');
    // In its own session, as every copier is: the test runner's may be 0 (a container's PID
    // namespace), which is never counted as a holder.
    const holder = spawn('flock', [path.join(root, COPY_LOCK_PATH), 'sleep', '600'], { stdio: 'ignore', detached: true });
    holders.push(holder);
    await eventually('the lock held', () => host.sessionsHolding(COPY_LOCK_PATH).length > 0);
    expect(await isCopyRunning(host)).toBe(true);
    expect(await startCopies(unit, REQUEST, ctx)).toBe('queued');
    expect(runsOf(root)).toEqual([]);
    expect(readFileSync(path.join(root, COPY_REQUEST_PATH), 'utf8')).toBe(copyRequestText(REQUEST));
  });

  it('a copier that fails is reported once and not run again, though the request was not served', async () => {
    const failing = `require('fs').appendFileSync(require('path').join(process.env.CHARM_HOST_ROOT, 'runs'), JSON.stringify({ argv: [], env: [], request: '' }) + '\\n'); process.exit(1);`;
    const { root, ctx, unit, reported } = hostRoot(failing);
    expect(await startCopies(unit, REQUEST, ctx)).toBe('started');
    await eventually('the report', () => reported().length > 0);
    expect(runsOf(root)).toHaveLength(1);
    expect(existsSync(path.join(root, COPY_SERVED_PATH))).toBe(false);
  });

  it('stopCopies ends the running copier and its loop (no report) and removes the request', async () => {
    const { root, host, ctx, unit, reported } = hostRoot(STAND_IN);
    writeFileSync(path.join(root, 'hold'), '');
    expect(await startCopies(unit, REQUEST, ctx)).toBe('started');
    await eventually('the run', () => runsOf(root).length === 1);
    const sessions = host.sessionsHolding(COPY_LOCK_PATH);
    expect(sessions).toHaveLength(1);

    expect(await stopCopies(unit)).toEqual(sessions);

    expect(await isCopyRunning(host)).toBe(false);
    expect(sessionPids(sessions[0]!)).toEqual([]);
    expect(existsSync(path.join(root, COPY_REQUEST_PATH))).toBe(false);
    expect(reported()).toEqual([]);
    expect(await stopCopies(unit)).toEqual([]);
  });

  it('stopCopies kills a copier that ignores SIGTERM after the grace period, and returns only once it is gone', async () => {
    const stubborn = `process.on('SIGTERM', () => {}); require('fs').appendFileSync(require('path').join(process.env.CHARM_HOST_ROOT, 'runs'), JSON.stringify({ argv: [], env: [], request: '' }) + '\\n'); setInterval(() => {}, 1000);`;
    const { root, host, ctx, unit } = hostRoot(stubborn);
    expect(await startCopies(unit, REQUEST, ctx)).toBe('started');
    await eventually('the run', () => runsOf(root).length === 1);
    const sessions = host.sessionsHolding(COPY_LOCK_PATH);
    expect(sessions).toHaveLength(1);

    expect(await stopCopies(unit)).toEqual(sessions);

    expect(sessionPids(sessions[0]!), 'processes of the copier session left when stopCopies returned').toEqual([]);
  });

  it('refuses an invalid request before writing anything', async () => {
    const { root, ctx, unit } = hostRoot(STAND_IN);
    await expect(startCopies(unit, { ...REQUEST, keep: 0 }, ctx)).rejects.toThrow(/keep is not a whole number/);
    expect(existsSync(path.join(root, COPY_REQUEST_PATH))).toBe(false);
  });
});

describe('the per-cloud metrics files', () => {
  it('the copier counts copies in copies-<cloud>.json, the charm gone images in gone-<cloud>.json; the exporter shows both; a cloud name unfit for a file name is skipped', () => {
    const { root, host } = hostRoot('');
    updateCopiesFile(host, 'runners-a_runner-a', (s) => {
      s.succeeded += 2;
      s.last_bytes = 1024;
    });
    recordGoneImageReplaced(host, 'runners-a_runner-a');
    recordGoneImageReplaced(host, 'runners-a_runner-a');
    const copies = path.join(root, METRICS_DIR, 'copies-runners-a_runner-a.json');
    const gone = path.join(root, METRICS_DIR, 'gone-runners-a_runner-a.json');
    expect(JSON.parse(readFileSync(copies, 'utf8'))).toEqual({ succeeded: 2, failed: 0, last_duration_seconds: 0, last_bytes: 1024 });
    expect(JSON.parse(readFileSync(gone, 'utf8'))).toEqual({ gone_replaced: 2 });
    for (const f of [copies, gone]) expect(statSync(f).mode & 0o777).toBe(0o644);
    expect(updateCopiesFile(host, '../x', () => {})).toBe(false);
    recordGoneImageReplaced(host, '../x');
    expect(readdirSync(path.join(root, METRICS_DIR)).sort()).toEqual(['copies-runners-a_runner-a.json', 'gone-runners-a_runner-a.json']);
    // What the exporter makes of them.
    const text = renderMetrics(readState(path.join(root, METRICS_DIR)), 0);
    expect(text).toContain('github_runner_image_builder_copies_succeeded_total{cloud="runners-a_runner-a"} 2\n');
    expect(text).toContain('github_runner_image_builder_gone_images_replaced_total{cloud="runners-a_runner-a"} 2\n');
    expect(text).toContain('github_runner_image_builder_last_copy_bytes{cloud="runners-a_runner-a"} 1024\n');
    expect(text).toContain('github_runner_image_builder_state_errors 0\n');
  });

  it('a gone image the charm counts while the copier is between reading and writing its numbers is not lost', () => {
    const { root, host } = hostRoot('');
    recordGoneImageReplaced(host, 'runners-a_runner-a');
    updateCopiesFile(host, 'runners-a_runner-a', (s) => {
      // The copier has read its file; an update-status counts a gone image now.
      recordGoneImageReplaced(host, 'runners-a_runner-a');
      s.succeeded += 1;
    });
    const text = renderMetrics(readState(path.join(root, METRICS_DIR)), 0);
    expect(text).toContain('github_runner_image_builder_gone_images_replaced_total{cloud="runners-a_runner-a"} 2\n');
    expect(text).toContain('github_runner_image_builder_copies_succeeded_total{cloud="runners-a_runner-a"} 1\n');
  });
});
