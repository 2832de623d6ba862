// cacert / verify: false against a local HTTPS fake (self-signed certificate made with openssl):
// Node's global fetch cannot take a CA, so these clouds go through the node:https transport.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenStackError, getLatestImage, parseCloudsYaml, resolveCloud } from '../../src/openstack/index.js';
import { haveOpenssl, selfSignedLoopbackCert } from '../support/error-text.js';

describe.skipIf(!haveOpenssl())('TLS: cacert and verify: false', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let requests = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'os-tls-'));
    selfSignedLoopbackCert(dir);
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n');
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.pem')) }, (req, res) => {
      requests++;
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/v3/auth/tokens' && req.method === 'POST') {
          JSON.parse(body); // the client sent JSON
          res.writeHead(201, { 'content-type': 'application/json', 'x-subject-token': 'tls-token' });
          res.end(JSON.stringify({ token: { project: { id: 'p' }, catalog: [{ type: 'image', endpoints: [{ interface: 'public', region_id: 'R', url: base }] }] } }));
        } else if (req.url?.startsWith('/v2/images?') && req.headers['x-auth-token'] === 'tls-token') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ images: [{ id: 'tls-image', name: 'n', status: 'active', created_at: '2024-01-01T00:00:00Z' }] }));
        } else {
          res.writeHead(404);
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cloud = (extra: string) =>
    resolveCloud(parseCloudsYaml(`clouds:\n  tls:\n    auth: {auth_url: "${base}", user_id: u, password: p, project_id: x}\n${extra}`));

  it('without cacert the self-signed certificate is refused: kind tls', async () => {
    const err = await getLatestImage(cloud(''), 'n').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenStackError);
    expect((err as OpenStackError).kind).toBe('tls');
    expect((err as OpenStackError).message).toMatch(new RegExp(`^cloud "tls": POST ${base}/v3/auth/tokens: TLS failure \\(\\w+\\); set cacert`));
  });

  it('with cacert: the CA is trusted, two requests', async () => {
    const before = requests;
    const latest = await getLatestImage(cloud(`    cacert: ${join(dir, 'ca.pem')}\n`), 'n');
    expect(latest).toEqual({ id: 'tls-image', name: 'n', createdAt: '2024-01-01T00:00:00Z', status: 'active' });
    expect(requests - before).toBe(2);
  });

  it('with verify: false any certificate is accepted', async () => {
    expect(await getLatestImage(cloud('    verify: false\n'), 'n')).toMatchObject({ id: 'tls-image' });
  });

  it('a cacert file without a certificate is a config error', async () => {
    await expect(getLatestImage(cloud(`    cacert: ${join(dir, 'not-a-cert.pem')}\n`), 'n')).rejects.toMatchObject({ kind: 'config' });
  });

  it('timeouts apply to the https transport too', async () => {
    const slow = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.pem')) }, () => {
      /* never answers */
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const c = resolveCloud(parseCloudsYaml(`clouds:\n  slow:\n    auth: {auth_url: "${url}", user_id: u, password: p, project_id: x}\n    verify: false\n`));
    try {
      await expect(getLatestImage(c, 'n', { timeoutMs: 200 })).rejects.toMatchObject({ kind: 'timeout' });
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });
});
