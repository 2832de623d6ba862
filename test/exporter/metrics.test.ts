// The state files -> metrics: what each file gives, and what a missing, partial or garbage one
// gives (the valid parts, and github_runner_image_builder_state_errors).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/exporter/metrics.js';
import { MAX_STATE_FILE_BYTES, readState } from '../../src/exporter/state.js';
import { parseExposition, tempDir, writeState } from './exporter.js';

const M = 'github_runner_image_builder';
const NOW = 1767225600; // 2026-01-01T00:00:00Z
const dirs: string[] = [];
let dir: string;

beforeEach(() => {
  dir = tempDir('exporter-metrics');
  dirs.push(dir);
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const UNIT = {
  arch: 'x64',
  bases: ['noble', 'jammy'],
  leader: true,
  interval_hours: 6,
  schedule_start: NOW - 7200,
  images: { noble: { id: 'img-noble-1', created_at: '2025-12-31T22:59:59.500Z' } },
};
const NOBLE = { started: 5, succeeded: 3, failed: 2, consecutive_failures: 1, last_duration_seconds: 1830.5, last_success_timestamp: NOW - 3600 };

const scrape = () => renderMetrics(readState(dir), NOW);
const samples = () => parseExposition(scrape());
const errors = () => readState(dir).errors;

describe('the metrics of the state files', () => {
  it('renders the whole exposition for one unit with two bases, one of them built and running', () => {
    writeState(dir, 'unit.json', UNIT);
    writeState(dir, 'build-noble.json', NOBLE);
    writeState(dir, 'running.json', { base: 'jammy', started: NOW - 60 });
    expect(scrape()).toBe(`# HELP ${M}_builds_started_total Builds of the base started since the unit was installed.
# TYPE ${M}_builds_started_total counter
${M}_builds_started_total{base="noble",arch="x64"} 5
${M}_builds_started_total{base="jammy",arch="x64"} 0
# HELP ${M}_builds_succeeded_total Builds of the base that succeeded since the unit was installed.
# TYPE ${M}_builds_succeeded_total counter
${M}_builds_succeeded_total{base="noble",arch="x64"} 3
${M}_builds_succeeded_total{base="jammy",arch="x64"} 0
# HELP ${M}_builds_failed_total Builds of the base that failed (or timed out) since the unit was installed.
# TYPE ${M}_builds_failed_total counter
${M}_builds_failed_total{base="noble",arch="x64"} 2
${M}_builds_failed_total{base="jammy",arch="x64"} 0
# HELP ${M}_consecutive_failures Builds of the base that failed in a row since its last success.
# TYPE ${M}_consecutive_failures gauge
${M}_consecutive_failures{base="noble",arch="x64"} 1
${M}_consecutive_failures{base="jammy",arch="x64"} 0
# HELP ${M}_last_build_duration_seconds How long the last finished build of the base took.
# TYPE ${M}_last_build_duration_seconds gauge
${M}_last_build_duration_seconds{base="noble",arch="x64"} 1830.5
${M}_last_build_duration_seconds{base="jammy",arch="x64"} 0
# HELP ${M}_last_success_timestamp_seconds When the last successful build of the base ended (unix time; 0 if never).
# TYPE ${M}_last_success_timestamp_seconds gauge
${M}_last_success_timestamp_seconds{base="noble",arch="x64"} ${NOW - 3600}
${M}_last_success_timestamp_seconds{base="jammy",arch="x64"} 0
# HELP ${M}_build_running Whether a build of the base is running (1) or not (0).
# TYPE ${M}_build_running gauge
${M}_build_running{base="noble",arch="x64"} 0
${M}_build_running{base="jammy",arch="x64"} 1
# HELP ${M}_image_age_seconds Age of the newest image of the base served to the runners (now - its created_at).
# TYPE ${M}_image_age_seconds gauge
${M}_image_age_seconds{base="noble",arch="x64"} 3600.5
# HELP ${M}_schedule_start_timestamp_seconds When the build schedule started (unix time): builds run every interval from then.
# TYPE ${M}_schedule_start_timestamp_seconds gauge
${M}_schedule_start_timestamp_seconds{arch="x64"} ${NOW - 7200}
# HELP ${M}_interval_hours Hours between scheduled builds (the build-interval option).
# TYPE ${M}_interval_hours gauge
${M}_interval_hours{arch="x64"} 6
# HELP ${M}_leader Whether this unit is the leader (1), the unit that builds, or not (0).
# TYPE ${M}_leader gauge
${M}_leader{arch="x64"} 1
# HELP ${M}_state_errors State files the exporter could not read or that hold invalid values, at this scrape (the exporter's log says which and why).
# TYPE ${M}_state_errors gauge
${M}_state_errors 0
`);
    expect(errors()).toEqual([]);
  });

  it('no state dir, or an empty one: only state_errors 0', () => {
    expect(renderMetrics(readState(path.join(dir, 'missing')), NOW)).toBe(
      `# HELP ${M}_state_errors State files the exporter could not read or that hold invalid values, at this scrape (the exporter's log says which and why).\n# TYPE ${M}_state_errors gauge\n${M}_state_errors 0\n`,
    );
    expect([...samples()]).toEqual([[`${M}_state_errors`, 0]]);
  });

  it('a state dir that is a file: one error, nothing else', () => {
    const file = path.join(dir, 'file');
    writeFileSync(file, '{}');
    const state = readState(file);
    expect(state.errors).toEqual([{ file: '.', reason: 'the state dir is not a directory' }]);
    expect([...parseExposition(renderMetrics(state, NOW))]).toEqual([[`${M}_state_errors`, 1]]);
  });

  it('only unit.json: every configured base gets zero counters and build_running 0; no image, no image age', () => {
    writeState(dir, 'unit.json', { ...UNIT, images: {} });
    const s = samples();
    for (const base of ['noble', 'jammy']) {
      for (const name of ['builds_started_total', 'builds_succeeded_total', 'builds_failed_total', 'consecutive_failures', 'last_build_duration_seconds', 'last_success_timestamp_seconds', 'build_running']) {
        expect(s.get(`${M}_${name}{base="${base}",arch="x64"}`), `${name} ${base}`).toBe(0);
      }
    }
    expect([...s.keys()].filter((k) => k.includes('image_age'))).toEqual([]);
    expect(s.get(`${M}_leader{arch="x64"}`)).toBe(1);
  });

  it('only the configured bases: a build file or image of another base is not exported; an empty list exports no base', () => {
    writeState(dir, 'unit.json', { ...UNIT, bases: ['jammy'], images: { ...UNIT.images, jammy: null } });
    writeState(dir, 'build-noble.json', NOBLE);
    expect([...samples().keys()].filter((k) => k.includes('noble'))).toEqual([]);
    expect(samples().get(`${M}_builds_started_total{base="jammy",arch="x64"}`)).toBe(0);
    writeState(dir, 'unit.json', { ...UNIT, bases: [] });
    expect([...samples().keys()].filter((k) => k.includes('base='))).toEqual([]);
    expect(errors()).toEqual([]);
  });

  it('duplicate bases count once; unknown fields are ignored', () => {
    writeState(dir, 'unit.json', { ...UNIT, bases: ['noble', 'noble'], future: { x: 1 } });
    writeState(dir, 'build-noble.json', { ...NOBLE, future_field: 'x' });
    expect(scrape().match(/builds_started_total\{/g)).toHaveLength(1);
    expect(errors()).toEqual([]);
  });

  it('no unit.json: the bases of the build files and of running.json, without arch, and no unit metrics', () => {
    writeState(dir, 'build-noble.json', NOBLE);
    writeState(dir, 'build-focal.json', { started: 1 });
    writeState(dir, 'build-..json', NOBLE); // not a base name
    writeState(dir, 'running.json', { base: 'jammy', started: NOW });
    const s = samples();
    expect(s.get(`${M}_builds_started_total{base="noble"}`)).toBe(5);
    expect(s.get(`${M}_builds_started_total{base="focal"}`)).toBe(1);
    expect(s.get(`${M}_builds_failed_total{base="focal"}`)).toBeUndefined(); // absent field: absent series
    expect(s.get(`${M}_builds_started_total{base="jammy"}`)).toBe(0);
    expect(s.get(`${M}_build_running{base="jammy"}`)).toBe(1);
    expect(s.get(`${M}_build_running{base="noble"}`)).toBe(0);
    expect([...s.keys()].filter((k) => /leader|interval|schedule|image_age|\.\./.test(k))).toEqual([]);
    expect(errors()).toEqual([]);
  });

  it('a garbage build file: that base has no build series (a zero would read as a counter reset), the others do', () => {
    writeState(dir, 'unit.json', UNIT);
    writeState(dir, 'build-noble.json', 'started=5');
    const s = samples();
    expect([...s.keys()].filter((k) => k.includes('noble') && !/build_running|image_age/.test(k))).toEqual([]);
    expect(s.get(`${M}_build_running{base="noble",arch="x64"}`)).toBe(0);
    expect(s.get(`${M}_builds_started_total{base="jammy",arch="x64"}`)).toBe(0);
    expect(s.get(`${M}_state_errors`)).toBe(1);
    expect(errors()).toEqual([{ file: 'build-noble.json', reason: expect.stringMatching(/^is not JSON: /) }]);
  });

  it('a build file with invalid fields: the valid ones are exported, the file counts as one error', () => {
    writeState(dir, 'unit.json', UNIT);
    // 1e400 parses as Infinity; null is as good as absent.
    writeState(dir, 'build-noble.json', '{"started": "5", "succeeded": -1, "failed": 2, "consecutive_failures": true, "last_duration_seconds": null, "last_success_timestamp": 1e400}');
    const s = samples();
    expect([...s.entries()].filter(([k]) => k.includes('noble') && !/build_running|image_age/.test(k))).toEqual([[`${M}_builds_failed_total{base="noble",arch="x64"}`, 2]]);
    expect(s.get(`${M}_state_errors`)).toBe(1);
    expect(errors()[0]!.reason).toBe(
      'started is not a non-negative number; succeeded is not a non-negative number; consecutive_failures is not a non-negative number; last_success_timestamp is not a non-negative number',
    );
  });

  it('unit.json with invalid fields: the valid ones are used, unsafe base names are refused', () => {
    writeState(dir, 'unit.json', {
      arch: 64,
      bases: ['noble', '../etc/passwd', 'a/b', '', '.hidden', 7, 'x'.repeat(65)],
      leader: 'yes',
      interval_hours: -6,
      schedule_start: 'soon',
      images: { noble: { id: 'i', created_at: 'yesterday' }, jammy: [] },
    });
    writeState(dir, 'build-noble.json', NOBLE);
    const s = samples();
    expect(s.get(`${M}_builds_started_total{base="noble"}`)).toBe(5);
    expect([...s.keys()].filter((k) => k.includes('base=') && !k.includes('base="noble"'))).toEqual([]);
    expect([...s.keys()].filter((k) => /leader|interval|schedule|image_age/.test(k))).toEqual([]);
    expect(s.get(`${M}_state_errors`)).toBe(1);
    const [e] = errors();
    expect(e!.file).toBe('unit.json');
    for (const reason of ['arch is not', 'invalid base "../etc/passwd"', 'invalid base "a/b"', 'invalid base ""', 'invalid base ".hidden"', 'invalid base 7', 'leader is not a boolean', 'interval_hours is not', 'schedule_start is not', 'images.noble has no valid created_at', 'images.jammy has no valid created_at']) {
      expect(e!.reason).toContain(reason);
    }
  });

  it('unit.json that is not an object, or bases that is not a list: the bases of the build files', () => {
    writeState(dir, 'build-noble.json', NOBLE);
    for (const text of ['[]', 'null', '"x64"', '42', '{"bases": "noble"}', '{"images": []}']) {
      writeState(dir, 'unit.json', text);
      expect([text, samples().get(`${M}_builds_started_total{base="noble"}`), samples().get(`${M}_state_errors`)]).toEqual([text, 5, 1]);
    }
  });

  it('copies-<cloud>.json and gone-<cloud>.json: one series per consumer cloud with a valid file; garbage gives none and counts as an error; unsafe names are not read', () => {
    writeState(dir, 'unit.json', UNIT);
    writeState(dir, 'copies-runners-a_runner-a.json', { succeeded: 4, failed: 1, last_duration_seconds: 12.5, last_bytes: 2097152 });
    writeState(dir, 'gone-runners-a_runner-a.json', { gone_replaced: 2 });
    writeState(dir, 'gone-runners-c.json', { gone_replaced: 1 });
    writeState(dir, 'gone-broken.json', '[]');
    writeState(dir, 'copies-runners-b.json', { succeeded: 1, failed: -3 });
    writeState(dir, 'copies-broken.json', 'not json');
    writeState(dir, 'copies-.hidden.json', { succeeded: 9 });
    const s = samples();
    expect(s.get(`${M}_copies_succeeded_total{cloud="runners-a_runner-a"}`)).toBe(4);
    expect(s.get(`${M}_copies_failed_total{cloud="runners-a_runner-a"}`)).toBe(1);
    expect(s.get(`${M}_last_copy_duration_seconds{cloud="runners-a_runner-a"}`)).toBe(12.5);
    expect(s.get(`${M}_last_copy_bytes{cloud="runners-a_runner-a"}`)).toBe(2097152);
    expect(s.get(`${M}_gone_images_replaced_total{cloud="runners-a_runner-a"}`)).toBe(2);
    // The valid field of a partly invalid file; the invalid one (a zero would read as a reset) left out.
    expect(s.get(`${M}_copies_succeeded_total{cloud="runners-b"}`)).toBe(1);
    expect(s.has(`${M}_copies_failed_total{cloud="runners-b"}`)).toBe(false);
    // A cloud with only the charm's file: its gone count, and no copy series.
    expect(s.get(`${M}_gone_images_replaced_total{cloud="runners-c"}`)).toBe(1);
    expect([...s.keys()].filter((k) => k.includes('runners-c') && !k.includes('gone'))).toEqual([]);
    expect([...s.keys()].filter((k) => k.includes('broken') || k.includes('hidden'))).toEqual([]);
    expect(errors().map((e) => e.file).sort()).toEqual(['copies-broken.json', 'copies-runners-b.json', 'gone-broken.json']);
    expect(s.get(`${M}_state_errors`)).toBe(3);
  });

  it('escapes an arch with quotes, backslashes and line feeds', () => {
    writeState(dir, 'unit.json', { ...UNIT, arch: 'x"6\\4\n', bases: ['noble'] });
    expect(scrape()).toContain(`${M}_leader{arch="x\\"6\\\\4\\n"} 1\n`);
  });

  it('image age: now - created_at to the millisecond, for each configured base with an image', () => {
    writeState(dir, 'unit.json', { ...UNIT, images: { noble: { id: 'a', created_at: '2025-12-31T23:59:59.123Z' }, jammy: { created_at: '2025-12-01T00:00:00Z' }, focal: { created_at: '2025-01-01T00:00:00Z' } } });
    const s = samples();
    expect(s.get(`${M}_image_age_seconds{base="noble",arch="x64"}`)).toBe(0.877);
    expect(s.get(`${M}_image_age_seconds{base="jammy",arch="x64"}`)).toBe(31 * 86400);
    expect([...s.keys()].filter((k) => k.includes('focal'))).toEqual([]);
  });

  it('running.json: garbage leaves build_running out; another base (or a finished build) gives 0 for all', () => {
    writeState(dir, 'unit.json', UNIT);
    writeState(dir, 'running.json', '{"base": ');
    expect([...samples().keys()].filter((k) => k.includes('build_running'))).toEqual([]);
    expect(samples().get(`${M}_state_errors`)).toBe(1);
    writeState(dir, 'running.json', { base: '../x' });
    expect(errors()).toEqual([{ file: 'running.json', reason: 'base is not a valid base name' }]);
    writeState(dir, 'running.json', { base: 'focal', started: NOW });
    expect([...samples().entries()].filter(([k]) => k.includes('build_running')).map(([, v]) => v)).toEqual([0, 0]);
    rmSync(path.join(dir, 'running.json'));
    expect([...samples().entries()].filter(([k]) => k.includes('build_running')).map(([, v]) => v)).toEqual([0, 0]);
  });

  it('files that are not small regular JSON objects are errors, never read through: a directory, a symlink, a FIFO, a big file', () => {
    writeState(dir, 'unit.json', UNIT);
    mkdirSync(path.join(dir, 'build-noble.json'));
    symlinkSync('/dev/zero', path.join(dir, 'build-jammy.json'));
    execFileSync('mkfifo', [path.join(dir, 'running.json')]);
    expect(errors()).toEqual([
      { file: 'running.json', reason: 'is not a regular file' },
      { file: 'build-noble.json', reason: 'is a directory' },
      { file: 'build-jammy.json', reason: 'cannot open: is a symlink' },
    ]);
    writeFileSync(path.join(dir, 'unit.json'), `{"arch": "x64", "pad": "${'x'.repeat(MAX_STATE_FILE_BYTES)}"}`);
    expect(errors()[0]).toEqual({ file: 'unit.json', reason: `is larger than ${MAX_STATE_FILE_BYTES} bytes` });
    expect(samples().get(`${M}_state_errors`)).toBe(4);
  });

  it('binary garbage, a BOM, deep nesting and invalid UTF-8 are errors, not crashes', () => {
    writeState(dir, 'unit.json', { bases: ['noble'] });
    for (const data of [Buffer.from([0, 1, 2, 0xff, 0xfe]), Buffer.from('\ufeff{}'), Buffer.from('['.repeat(60_000)), Buffer.from('{"started": 1, "x": "\xff"'), Buffer.alloc(0)]) {
      writeFileSync(path.join(dir, 'build-noble.json'), data);
      expect(errors()).toEqual([{ file: 'build-noble.json', reason: expect.stringMatching(/^is not JSON: /) }]);
    }
    writeFileSync(path.join(dir, 'build-noble.json'), `${'['.repeat(30_000)}${']'.repeat(30_000)}`);
    expect(errors()).toEqual([{ file: 'build-noble.json', reason: 'is not a JSON object' }]);
  });
});
