// ProcessError: one error for a program that failed, with a message for each way it can fail.
// Hook tools go through it (HookToolError); the real ProcessToolRunner is driven here with
// stand-in tools that hang, flood stdout, get killed, or fail, and with a tool missing from PATH.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HookToolError, ProcessBackend, ProcessError, ProcessToolRunner, RelationNotFoundError } from '../../src/ops/index.js';

const toolDir = mkdtempSync(path.join(tmpdir(), 'tools-'));
afterAll(() => rmSync(toolDir, { recursive: true, force: true }));

function tool(name: string, body: string): void {
  const file = path.join(toolDir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}
tool('config-get', 'exec sleep 30'); // hangs
tool('is-leader', 'head -c 5000 /dev/zero | tr "\\0" x'); // floods stdout
tool('status-get', 'kill -TERM $$'); // killed
tool('relation-set', 'cat >/dev/null; echo "ERROR cannot write relation settings" >&2; exit 1');
tool('relation-list', 'echo \'ERROR invalid value "image:9" for option -r: relation not found\' >&2; exit 2');
tool('action-get', 'i=0; while [ $i -lt 300 ]; do echo "noise line $i" >&2; i=$((i+1)); done; echo "ERROR the real reason" >&2; exit 1');

const backend = (opts: { timeoutMs?: number; maxBuffer?: number } = {}) => new ProcessBackend(new ProcessToolRunner({ PATH: `${toolDir}:/usr/bin:/bin` }, opts));

function caught(fn: () => unknown): HookToolError {
  try {
    fn();
  } catch (err) {
    return err as HookToolError;
  }
  throw new Error('did not throw');
}

describe('ProcessError messages', () => {
  const command = ['config-get', '--format=json'];
  it.each([
    [{ command, timedOut: true, timeoutMs: 300_000, signal: 'SIGTERM' }, '`config-get --format=json` timed out after 300 s'],
    [{ command, signal: 'SIGTERM' }, '`config-get --format=json` was killed by SIGTERM'],
    [{ command, spawnError: 'ENOENT', hint: 'is this running in a Juju hook context?' }, '`config-get --format=json` could not be started (ENOENT); is this running in a Juju hook context?'],
    [{ command, exitCode: 1, stderr: 'ERROR boom\n' }, '`config-get --format=json` exited with code 1: ERROR boom'],
    [{ command, exitCode: 1 }, '`config-get --format=json` exited with code 1'],
    [{ command, bufferExceeded: true, maxBuffer: 64 * 1024 * 1024, signal: 'SIGTERM' }, '`config-get --format=json` output exceeded the 64 MiB buffer'],
    [{ command: ['status-set', '--', 'two words', "it's"], exitCode: 2 }, '`status-set -- "two words" "it\'s"` exited with code 2'],
  ])('%o', (opts, message) => {
    const err = new ProcessError(opts);
    expect(err.message).toBe(message);
    expect(err.name).toBe('ProcessError');
    expect(err.command).toEqual(opts.command);
  });

  it('carries the execa-like fields and the cause', () => {
    const cause = new Error('spawn config-get ENOENT');
    const err = new ProcessError({ command, spawnError: 'ENOENT', cause });
    expect(err).toMatchObject({ escapedCommand: 'config-get --format=json', exitCode: undefined, signal: undefined, timedOut: false, stderr: '', spawnError: 'ENOENT' });
    expect(err.cause).toBe(cause);
    const timeout = new ProcessError({ command, timedOut: true, timeoutMs: 1500, signal: 'SIGTERM', stderr: 'partial\n' });
    expect(timeout).toMatchObject({ timedOut: true, signal: 'SIGTERM', stderr: 'partial' });
    expect(timeout.message).toBe('`config-get --format=json` timed out after 1500 ms: partial');
  });

  it('keeps the short HookToolError constructor', () => {
    const err = new HookToolError('relation-get', ['-r', 'image:1'], 2, 'ERROR x\n');
    expect(err).toBeInstanceOf(ProcessError);
    expect(err.message).toBe('hook tool `relation-get -r image:1` exited with code 2: ERROR x');
    expect([err.tool, err.args, err.exitCode]).toEqual(['relation-get', ['-r', 'image:1'], 2]);
  });
});

describe('hook tools through the real runner', () => {
  it('reports a tool that hangs past the timeout as timed out, not as "could not be started"', () => {
    // The tool sleeps 30 s: only the runner's timeout (SIGTERM) ends it with this error.
    const err = caught(() => backend({ timeoutMs: 300 }).configGet());
    expect(err).toBeInstanceOf(HookToolError);
    expect(err.message).toBe('hook tool `config-get --format=json` timed out after 300 ms');
    expect(err).toMatchObject({ timedOut: true, signal: 'SIGTERM', exitCode: undefined });
  });

  it('reports output past the buffer (ENOBUFS)', () => {
    const err = caught(() => backend({ maxBuffer: 1024 }).isLeader());
    expect(err.message).toBe('hook tool `is-leader --format=json` output exceeded the 1 KiB buffer');
    expect(err.bufferExceeded).toBe(true);
  });

  it('reports a tool killed by a signal', () => {
    const err = caught(() => backend().statusGet(false));
    expect(err.message).toBe('hook tool `status-get --include-data --format=json --application=false` was killed by SIGTERM');
    expect(err.signal).toBe('SIGTERM');
  });

  it('reports a tool missing from PATH as not started, asking about the hook context', () => {
    const err = caught(() => backend().actionLog('hello'));
    expect(err.message).toBe('hook tool `action-log -- hello` could not be started (ENOENT); is this running in a Juju hook context?');
    expect(err.spawnError).toBe('ENOENT');
  });

  it('reports a non-zero exit with the tail of stderr only', () => {
    const err = caught(() => backend().actionGet());
    expect(err.message).toMatch(/^hook tool `action-get --format=json` exited with code 1: …noise line \d+\n/);
    expect(err.message.endsWith('noise line 299\nERROR the real reason')).toBe(true);
    expect(err.stderr.length).toBeLessThanOrEqual(2001);
    expect(err.message).not.toContain('noise line 0\n');
  });

  it('never puts stdin (relation data) in the error', () => {
    const err = caught(() => backend().relationSet('image:1', { password: 'canary-secret' }, false));
    expect(err.message).toBe('hook tool `relation-set -r image:1 --file -` exited with code 1: ERROR cannot write relation settings');
    expect(JSON.stringify(err)).not.toContain('canary-secret');
  });

  it('still maps "relation not found" to RelationNotFoundError', () => {
    const err = caught(() => backend().relationList('image:9'));
    expect(err).toBeInstanceOf(RelationNotFoundError);
    expect(err.exitCode).toBe(2);
  });
});
