// The exporter of the github-runner-image-builder charm, bundled to dist/exporter.js and run by
// systemd with the charm's node:
//
//   node <charm-dir>/dist/exporter.js --port <port> [--host <address>] [--state-dir <dir>]
//
//   --port       the TCP port to listen on (required; 0 picks a free one)
//   --host       the address to listen on (127.0.0.1): the collector scrapes it on the same
//                machine, and nothing needs it from elsewhere
//   --state-dir  where the charm and the build script write the state files
//                (/var/lib/github-runner-image-builder-metrics, src/shared/metrics-files.ts)
//
// Under systemd it takes the socket its .socket unit holds (LISTEN_FDS=1 and LISTEN_PID set, the
// socket on fd 3) instead of binding --host and --port itself: the port stays bound while the
// exporter restarts, so no other process can take it meanwhile.
//
// Serves GET /metrics (Prometheus text format 0.0.4), reading the state files at each scrape.
// Prints `exporter: listening on http://<host>:<port>/metrics[ (socket from systemd)], state dir <dir>`
// once it listens;
// problems with state files go to stderr when they change. Exit codes: 0 on SIGTERM/SIGINT, 1 when
// it cannot listen, 2 for bad arguments.
import { USAGE, parseCommandLine, socketActivation } from './cli.js';
import { createExporterServer } from './server.js';

const opts = parseCommandLine(process.argv.slice(2));
if (opts.kind === 'help') {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (opts.kind === 'error') {
  process.stderr.write(`exporter: ${opts.message}\n${USAGE}\n`);
  process.exit(2);
}
const activation = socketActivation(process.env, process.pid);
for (const name of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete process.env[name];
if (activation.kind === 'error') {
  process.stderr.write(`exporter: ${activation.message}\n`);
  process.exit(2);
}
const { port, host, stateDir } = opts;
const where = activation.kind === 'socket' ? `the socket systemd passed (fd ${activation.fd})` : `${host}:${port}`;
const server = createExporterServer({ stateDir });
server.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(`exporter: cannot listen on ${where}: ${err.code ?? err.message}\n`);
  process.exit(1);
});
const listening = () => {
  const addr = server.address();
  const [boundHost, bound] = typeof addr === 'object' && addr ? [addr.address, addr.port] : [host, port];
  const url = `http://${boundHost.includes(':') ? `[${boundHost}]` : boundHost}:${bound}/metrics`;
  process.stdout.write(`exporter: listening on ${url}${activation.kind === 'socket' ? ' (socket from systemd)' : ''}, state dir ${stateDir}\n`);
};
if (activation.kind === 'socket') server.listen({ fd: activation.fd }, listening);
else server.listen(port, host, listening);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
