// Every piece of text an error exposes (message, stack, JSON, inspect, the whole cause chain),
// for tests that assert no secret leaks through any of them; and other helpers the OpenStack
// tests share.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { expect } from 'vitest';
import { OpenStackError } from '../../src/openstack/index.js';

export function allText(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 10; depth++) {
    const e = cur as Error;
    parts.push(String(e.message), String(e.stack), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }));
    cur = e.cause;
  }
  return parts.join('\n');
}

/** The OpenStackError a promise rejects with (fails the test if it resolves or rejects otherwise). */
export async function rejection(p: Promise<unknown>): Promise<OpenStackError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenStackError);
  return err as OpenStackError;
}

/** Whether openssl is there to make the certificate (the TLS suites skip, saying so, without it). */
export function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed certificate for 127.0.0.1 in `dir` (key.pem, ca.pem), for TLS servers on loopback. */
export function selfSignedLoopbackCert(dir: string): { key: string; cert: string } {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.pem')],
    { stdio: 'ignore' },
  );
  return { key: join(dir, 'key.pem'), cert: join(dir, 'ca.pem') };
}
