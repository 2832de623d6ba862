// `npm start` with no cloud configured and the OpenStack suite not found: it serves the
// simulated Keystone + Glance, each build lands there under a new id, and get-latest returns
// the last build's; a consumer with a project of its own there ends with a verified copy.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '..');

it('npm start ends with get-latest returning the last build, from the simulated cloud', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENSTACK_SUITE_DIR: '/nonexistent' };
  delete env.CLOUDS_YAML;
  const { stdout } = await promisify(execFile)(path.join(repo, 'node_modules/.bin/tsx'), ['scripts/try.ts'], { cwd: repo, env, timeout: 570_000 });
  expect(stdout).toMatch(/^cloud: SIMULATED Keystone v3 \+ Glance v2/m);
  const builds = /^builds: (.*)$/m.exec(stdout)?.[1]?.split(', ') ?? [];
  expect(builds).toHaveLength(3);
  expect(new Set(builds).size).toBe(3);
  const results = /▶ get-latest: exit 0[^\n]*\n[^\n]*\n {2}results: (.*)$/m.exec(stdout)?.[1];
  expect((JSON.parse(results ?? '{}') as { id?: string }).id).toBe(builds.at(-1));
  expect(stdout).toContain(`get-latest: ${builds.at(-1)}, the last build's image ✓`);
  // The consumer with its own project: joined with its credentials, its id a verified copy of the last build there.
  expect(stdout).toContain('github-runner-own-project joins from project runners (user runner), sending its six credential keys');
  const copy = /^github-runner-own-project: (\S+), a verified copy of (\S+) in its project runners \(owner [0-9a-f]{32}, sha512 matches\) ✓$/m.exec(stdout);
  expect(copy?.[2]).toBe(builds.at(-1));
  expect(builds).not.toContain(copy?.[1]);
  expect(stdout).not.toContain('runner-Pa55w0rd-simulated');
}, 600_000);
