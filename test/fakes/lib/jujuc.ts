// The stand-in hook tools' program: applies Juju's rules (src/ops/testing/juju-sim.ts, the same
// module the in-memory backend runs) to the simulated unit in $FAKE_JUJU_DIR. hook-tools/jujuc
// runs it as `node jujuc.cjs <tool> <args...>`; createUnit (test/support/juju.ts) bundles it
// into build/fakes/jujuc.cjs. File layout: ../README.md.
//
// One call: record it in calls.jsonl, check the context, run the tool, write its effects (the
// transactional parts into work/, which run-in-context.sh commits on exit 0), print, exit.
import { appendFileSync, mkdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { applySecretEffect, fileArgument, isToolName, runTool, type SimEffect, type SimRelation, type SimSecret, type SimState, type SimStatus } from '../../../src/ops/testing/juju-sim.js';

type Json = Record<string, unknown>;

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      sleep(1);
    }
  }
}

/** All of stdin (a pipe, a socket or a file). */
function readStdin(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        sleep(1);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function fail(message: string): never {
  writeAll(2, `${message}\n`);
  process.exit(1);
}

/** The simulated unit's files, each read on first use: a 10 MB config costs only config-get. */
class FileState implements SimState {
  private readonly cache = new Map<string, unknown>();
  constructor(private readonly dir: string) {}

  private text(rel: string): string | undefined {
    try {
      return readFileSync(path.join(this.dir, rel), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
  /** A JSON file; `fallback` when it is missing or empty. */
  private json<T>(rel: string, fallback: T): T {
    if (!this.cache.has(rel)) {
      const text = this.text(rel);
      this.cache.set(rel, text === undefined || text.trim() === '' ? fallback : (JSON.parse(text) as T) ?? fallback);
    }
    return this.cache.get(rel) as T;
  }

  get config(): Json {
    return this.json('state/config.json', {});
  }
  get leader(): boolean {
    return /^\s*true\s*$/.test(this.text('state/leader') ?? '');
  }
  /** state/leader holding `unknown: <cause>` (SimUnit.setLeadershipUnknown). */
  get leadershipUnknown(): string | undefined {
    const m = /^unknown: ?(.*)$/.exec((this.text('state/leader') ?? '').trim());
    return m ? m[1]! : undefined;
  }
  get relations(): Record<string, SimRelation> {
    return this.json('work/relations.json', {});
  }
  get charmState(): Record<string, string> {
    return this.json('work/charm-state.json', {});
  }
  get openedPorts(): Record<string, string[]> {
    return this.json('work/opened-ports.json', {});
  }
  get committedPorts(): Record<string, string[]> {
    return this.json('state/opened-ports.json', {});
  }
  get unitStatus(): SimStatus {
    return this.json('state/unit-status.json', {});
  }
  get appStatus(): SimStatus {
    return this.json('state/app-status.json', {});
  }
  get actionParams(): Json {
    return this.json('action/params.json', {});
  }
  get actionResults(): Json {
    return this.json('action/results.json', {});
  }
  /** The model's secrets (the controller's view; not transactional). */
  get secrets(): Record<string, SimSecret> {
    return this.json('state/secrets.json', {});
  }
}

function main(): void {
  const [tool = '', ...args] = process.argv.slice(2);
  if (!isToolName(tool)) fail(`ERROR unknown command: ${tool}`);
  const dir = process.env.FAKE_JUJU_DIR ?? '';
  let isDir = false;
  try {
    isDir = dir !== '' && statSync(dir).isDirectory();
  } catch {
    // not there
  }
  if (!isDir) fail('ERROR JUJU_AGENT_SOCKET_ADDRESS not set (stand-in: FAKE_JUJU_DIR does not name a simulated unit)');
  const at = (rel: string) => path.join(dir, rel);

  let running = '';
  try {
    running = readFileSync(at('work/context-id'), 'utf8').split('\n')[0]!.replace(/^[ \t]+|[ \t]+$/g, '');
  } catch {
    // no context is running
  }
  const stdin = fileArgument(tool, args) === '-' ? readStdin() : null;
  const context = process.env.JUJU_CONTEXT_ID ?? '';
  appendFileSync(at('calls.jsonl'), `${JSON.stringify({ tool, argv: args, stdin, context: process.env.JUJU_CONTEXT_ID ?? null })}\n`);

  const readFile = (file: string): string | undefined => {
    try {
      return statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  };
  let res: ReturnType<typeof runTool>;
  const unit = new FileState(dir);
  try {
    res = runTool(unit, { env: process.env, running }, { tool, args, stdin }, { readFile });
  } catch (err) {
    fail(`ERROR stand-in ${tool}: cannot read the simulated unit's files in ${dir}: ${(err as Error).message}`);
  }

  const write = (rel: string, content: string) => {
    const file = at(rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.${process.pid}`, content);
    renameSync(`${file}.${process.pid}`, file);
  };
  const append = (rel: string, record: Json) => {
    mkdirSync(path.dirname(at(rel)), { recursive: true });
    appendFileSync(at(rel), `${JSON.stringify(record)}\n`);
  };
  let secrets: Record<string, SimSecret> | undefined;
  const apply = (e: SimEffect) => {
    switch (e.kind) {
      case 'relations':
        return write('work/relations.json', JSON.stringify(e.relations));
      case 'charm-state':
        return write('work/charm-state.json', JSON.stringify(e.state));
      case 'opened-ports':
        return write('work/opened-ports.json', JSON.stringify(e.ports));
      case 'status':
        append('status-history.jsonl', { application: e.application, status: e.status, message: e.message, context });
        return write(e.application ? 'state/app-status.json' : 'state/unit-status.json', JSON.stringify({ status: e.status, message: e.message }));
      case 'log':
        return append('juju-log.jsonl', { level: e.level, message: e.message, context, ...(e.relation !== undefined ? { relation: e.relation } : {}) });
      case 'action-results':
        return write('action/results.json', JSON.stringify(e.results));
      case 'action-log':
        return append('action/logs.jsonl', { message: e.message, context });
      case 'action-fail':
        return write('action/failed', e.message);
      case 'workload-version':
        return write('state/workload-version', e.version);
      case 'secret-consumer':
      case 'secret-owner-label':
        // The controller records it at once (never rolled back); the content stays where it was.
        secrets = applySecretEffect(secrets ?? unit.secrets, e);
        return write('state/secrets.json', JSON.stringify(secrets));
    }
  };
  for (const e of res.effects) apply(e);

  if (res.stdout !== '') {
    if (res.outputFile === undefined) writeAll(1, res.stdout);
    else {
      try {
        writeFileSync(path.resolve(res.outputFile), res.stdout);
      } catch (err) {
        fail(`ERROR ${(err as Error).message}`);
      }
    }
  }
  if (res.stderr !== '') writeAll(2, res.stderr);
  process.exitCode = res.exitCode;
}

main();
