// The exporter's systemd units as systemd itself reads them (systemd-analyze verify, which loads
// unit files without a running systemd): the command line comes back word for word whatever the
// charm's directory is called (`%` and `$` included, issue 22 item 11).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPORTER_SERVICE, EXPORTER_SOCKET, METRICS_DIR } from '../../src/charm/paths.js';
import { HANG_MS } from '../support/eventually.js';
import { EXPORTER_NODE_FLAGS, renderExporterUnits, systemdCommandLine, type RenderContext } from '../../src/charm/render.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const available = spawnSync(ANALYZE, ['--version']).status === 0;
if (!available) console.warn(`NOT RUN: the systemd-analyze checks of test/charm/exporter-units.test.ts need ${ANALYZE} (Debian's systemd package)`);

const root = path.join(tmpdir(), `exporter-units-${process.pid}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A charm dir whose name systemd would read as specifiers and variables if they were not escaped. */
function charmDir(name: string): { ctx: RenderContext; argv: string[] } {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'node/bin'), { recursive: true });
  mkdirSync(path.join(dir, 'dist'), { recursive: true });
  copyFileSync('/bin/true', path.join(dir, 'node/bin/node'));
  writeFileSync(path.join(dir, 'dist/exporter.js'), '');
  const node = path.join(dir, 'node/bin/node');
  const ctx: RenderContext = { unitName: 'image-builder/0', charmDir: dir, modelUuid: 'c0ffee00-0000-4000-8000-000000000001', jujuExec: '/usr/bin/juju-exec', path: (p) => p, proxyEnv: {}, node };
  return { ctx, argv: [node, ...EXPORTER_NODE_FLAGS, `${dir}/dist/exporter.js`, '--port', '9110', '--state-dir', METRICS_DIR] };
}

/** systemd-analyze verify's verdict on these unit files, and the ExecStart= argv it loaded. */
function verify(units: Record<string, string>): { status: number | null; stderr: string; argv: string[]; dump: string } {
  const dir = path.join(root, `units-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(units)) writeFileSync(path.join(dir, name), text);
  const files = Object.keys(units).map((n) => path.join(dir, n));
  const run = (level: string) => spawnSync(ANALYZE, ['verify', ...files], { encoding: 'utf8', env: { PATH: process.env.PATH, SYSTEMD_LOG_LEVEL: level }, timeout: HANG_MS });
  const checked = run('notice');
  // At debug level the dump (stdout) shows each command line once the specifiers are resolved, as quoted words.
  const dump = run('debug').stdout;
  const line = /-> ExecStart:\n\s*Command Line: (.*)\n/.exec(dump)?.[1] ?? '';
  const argv = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!));
  // Only what it says of these units (the machine's own units may draw remarks too).
  const stderr = checked.stderr.split('\n').filter((l) => Object.keys(units).some((n) => l.includes(n)) || l.includes(dir) || /not executable/.test(l));
  return { status: checked.status, stderr: stderr.join('\n'), argv, dump };
}

/** What systemd does to an argument when it starts the service: `$$` is `$`, ${VAR} and $VAR are expanded. */
const atExec = (arg: string) => arg.replace(/\$(\$|\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)/g, (_, v: string) => (v === '$' ? '$' : '<expanded>'));

describe('the exporter socket', () => {
  it.skipIf(!available)('systemd listens on 127.0.0.1:<metrics-port> (never localhost, which may be ::1) and starts the service from it', () => {
    const { ctx } = charmDir('plain');
    const units = renderExporterUnits(ctx, 9123);
    const res = verify({ [EXPORTER_SOCKET]: units.socket, [EXPORTER_SERVICE]: units.service });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.dump).toMatch(/^\s*ListenStream: 127\.0\.0\.1:9123$/m);
    expect([...res.dump.matchAll(/^\s*Listen\w+: (.*)$/gm)].map((m) => m[1])).toEqual(['127.0.0.1:9123']);
    // The service needs the socket and is started after it (so it gets it as fd 3).
    expect(units.service).toMatch(new RegExp(`^Requires=${EXPORTER_SOCKET}$`, 'm'));
    expect(units.service).toMatch(new RegExp(`^After=${EXPORTER_SOCKET}$`, 'm'));
  });
});

describe('the exporter service ExecStart', () => {
  it('escapes % as %% everywhere and $ as $$ in the arguments, and quotes what is not plain', () => {
    expect(systemdCommandLine(['/c%n$HOME/node', '/c%n$HOME/x.js', 'plain', 'a "b" \\c', 'new\nline'])).toBe('"/c%%n$HOME/node" "/c%%n$$HOME/x.js" plain "a \\"b\\" \\\\c" "new\\x0aline"');
  });

  it.skipIf(!available)('systemd reads back the exact command line for a charm dir named with %, %% and $', () => {
    const { ctx, argv } = charmDir('ch%n-%%-$HOME-${USER}-%i');
    const units = renderExporterUnits(ctx, 9110);
    const res = verify({ [EXPORTER_SOCKET]: units.socket, [EXPORTER_SERVICE]: units.service });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.argv.length).toBe(argv.length);
    expect(res.argv.map((a, i) => (i === 0 ? a : atExec(a)))).toEqual(argv);
  });
});
