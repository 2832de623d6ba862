// The exporter of the github-runner-image-builder charm, bundled to dist/exporter.js and run by
// systemd with the charm's node:
//
//   node <charm-dir>/dist/exporter.js --port <port> [--host <address>] [--state-dir <dir>]
//
//   --port       the TCP port to listen on (required; 0 picks a free one)
//   --host       the address to listen on (127.0.0.1): the collector scrapes it on the same
//                machine, and nothing needs it from elsewhere
//   --state-dir  where the charm and the build script write the state files
//                (/var/lib/github-runner-image-builder-metrics, src/charm/paths.ts)
//
// Serves GET /metrics (Prometheus text format 0.0.4), reading the state files at each scrape.
// Prints `exporter: listening on http://<host>:<port>/metrics, state dir <dir>` once it listens;
// problems with state files go to stderr when they change. Exit codes: 0 on SIGTERM/SIGINT, 1 when
// it cannot listen, 2 for bad arguments.
import { USAGE, parseCommandLine } from './cli.js';
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
const { port, host, stateDir } = opts;
const server = createExporterServer({ stateDir });
server.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(`exporter: cannot listen on ${host}:${port}: ${err.code ?? err.message}\n`);
  process.exit(1);
});
server.listen(port, host, () => {
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  process.stdout.write(`exporter: listening on http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics, state dir ${stateDir}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
