// The exporter as the charm keeps it on the host, in the in-memory harness (real files, scripted
// systemctl): the state file it writes for the exporter is what the shared parser reads, a socket
// that cannot bind is a warning (the status names the port, metricsPortProblem), and stop removes
// both units.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXPORTER_SERVICE, EXPORTER_SOCKET, EXPORTER_SOCKET_PATH, EXPORTER_UNIT_PATH, METRICS_DIR } from '../../src/charm/paths.js';
import { on, relation, state } from '../../src/ops/testing/index.js';
import { UNIT_FILE, parseUnitFile } from '../../src/shared/metrics-files.js';
import { cloudsYaml } from '../support/clouds.js';
import { charmContext, testMachine, type MemoryMachine } from '../support/memory-unit.js';

const config = { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5 };
const machine = testMachine;
const install = (m: MemoryMachine) => charmContext(m).run(on.install(), state({ leader: true, config, relations: [relation('image', { id: 1, remoteApp: 'github-runner' })] }));

describe('the exporter on the host', () => {
  it("writes unit.json as the shared UnitFile: the exporter's parser reads all of it", async () => {
    const m = machine();
    const r = await install(m);
    expect(r.exitCode, r.stderr).toBe(0);
    const parsed = parseUnitFile(JSON.parse(readFileSync(m.hostPath(`${METRICS_DIR}/${UNIT_FILE}`), 'utf8')) as Record<string, unknown>);
    expect(parsed.problems).toEqual([]);
    expect(parsed.value).toMatchObject({ arch: 'x64', bases: ['noble'], leader: true, intervalHours: 6 });
  });

  it('installs the socket and the service, enabled and started together', async () => {
    const m = machine();
    expect((await install(m)).exitCode).toBe(0);
    expect(readFileSync(m.hostPath(EXPORTER_SOCKET_PATH), 'utf8')).toMatch(/^ListenStream=127\.0\.0\.1:9110$/m);
    expect(readFileSync(m.hostPath(EXPORTER_UNIT_PATH), 'utf8')).toMatch(new RegExp(`^Requires=${EXPORTER_SOCKET}$`, 'm'));
    expect(m.programs.called('systemctl').map((c) => c.argv.slice(1).join(' '))).toEqual(
      expect.arrayContaining(['daemon-reload', `enable ${EXPORTER_SOCKET} ${EXPORTER_SERVICE}`, `restart ${EXPORTER_SOCKET} ${EXPORTER_SERVICE}`]),
    );
  });

  it('a socket that cannot bind (another process has the port): a warning, the hook still succeeds', async () => {
    const m = machine();
    m.programs.fail(['systemctl', 'restart', EXPORTER_SOCKET], { exitCode: 1, stdout: '', stderr: `Job for ${EXPORTER_SOCKET} failed.` });
    const r = await install(m);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.logs.filter((l) => l.level === 'WARNING').map((l) => l.message).join('\n')).toContain(
      `the exporter's socket ${EXPORTER_SOCKET} did not start (systemctl restart exited 1: Job for ${EXPORTER_SOCKET} failed.); is another process using the metrics-port?`,
    );
  });

  it('stop disables both units and removes both files', async () => {
    const m = machine();
    const r = await install(m);
    m.programs.calls.length = 0;
    const stopped = await charmContext(m).run(on.stop(), r.state);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(m.programs.called('systemctl').map((c) => c.argv.slice(1).join(' '))).toEqual(expect.arrayContaining([`disable --now ${EXPORTER_SOCKET} ${EXPORTER_SERVICE}`]));
    expect([existsSync(m.hostPath(EXPORTER_UNIT_PATH)), existsSync(m.hostPath(EXPORTER_SOCKET_PATH))]).toEqual([false, false]);
  });
});
