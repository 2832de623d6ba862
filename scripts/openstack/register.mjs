// Called by start.sh once Keystone answers: creates what the suite needs by plain REST (the
// openstack CLI costs ~1 s of Python start-up per command) and writes <state>/suite.json.
//
//   node register.mjs <state dir> <keystone v3 url> <glance url> <admin pw> <glance pw> <demo pw>
//
// Catalog: image endpoints public/internal/admin in RegionOne, and only public in RegionTwo, so
// the suite can ask for an interface that a region lacks.
//
// Consumers: two more projects, each with its own user holding only the member role, play
// github-runner deployments (issue 20): the charm copies images into their projects. Their
// passwords are canaries too (no error text may contain them).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ksUrl, glanceUrl, adminPassword, glancePassword, demoPassword] = process.argv.slice(2);
if (!demoPassword) {
  console.error('usage: register.mjs <dir> <keystone url> <glance url> <admin pw> <glance pw> <demo pw>');
  process.exit(2);
}

async function call(method, path, body, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers['x-auth-token'] = token;
  const res = await fetch(`${ksUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return { res, json: text ? JSON.parse(text) : undefined };
}

const auth = await call('POST', '/auth/tokens', {
  auth: {
    identity: {
      methods: ['password'],
      password: { user: { name: 'admin', domain: { id: 'default' }, password: adminPassword } },
    },
    scope: { project: { name: 'admin', domain: { id: 'default' } } },
  },
});
const token = auth.res.headers.get('x-subject-token');

const roles = (await call('GET', '/roles', undefined, token)).json.roles;
const roleId = (name) => {
  const role = roles.find((r) => r.name === name);
  if (!role) throw new Error(`role ${name} missing after bootstrap`);
  return role.id;
};

async function projectWithUser(projectName, userName, password, role) {
  const project = (await call('POST', '/projects', { project: { name: projectName, domain_id: 'default' } }, token))
    .json.project;
  const user = (
    await call('POST', '/users', { user: { name: userName, domain_id: 'default', password, default_project_id: project.id } }, token)
  ).json.user;
  await call('PUT', `/projects/${project.id}/users/${user.id}/roles/${roleId(role)}`, undefined, token);
  return { projectId: project.id, userId: user.id };
}

const glance = await projectWithUser('service', 'glance', glancePassword, 'admin');
const demo = await projectWithUser('demo', 'demo', demoPassword, 'member');
// Named as github-runner's clouds are in the builder's clouds.yaml: <project_name>_<username>.
const consumers = [];
for (const [projectName, username] of [
  ['runners-a', 'runner-a'],
  ['runners-b', 'runner-b'],
]) {
  const password = `canary-${username}-Pa55w0rd-do-not-leak`;
  const ids = await projectWithUser(projectName, username, password, 'member');
  consumers.push({ cloudName: `${projectName}_${username}`, username, projectName, password, ...ids });
}

const service = (await call('POST', '/services', { service: { type: 'image', name: 'glance' } }, token)).json.service;
await call('POST', '/regions', { region: { id: 'RegionTwo' } }, token);
const endpoints = [
  ['public', 'RegionOne'],
  ['internal', 'RegionOne'],
  ['admin', 'RegionOne'],
  ['public', 'RegionTwo'],
];
for (const [iface, region] of endpoints) {
  await call('POST', '/endpoints', { endpoint: { service_id: service.id, interface: iface, region_id: region, url: glanceUrl } }, token);
}

const suite = {
  keystoneUrl: ksUrl,
  glanceUrl,
  cloudName: 'loopback',
  cloudsYaml: join(dir, 'clouds.yaml'),
  canaryPassword: demoPassword,
  demo: { username: 'demo', projectName: 'demo', ...demo },
  consumers,
  admin: { username: 'admin', projectName: 'admin', password: adminPassword },
  glanceServiceUser: glance,
  imageEndpoints: endpoints.map(([iface, region]) => `${iface}@${region}`),
};
writeFileSync(join(dir, 'suite.json'), JSON.stringify(suite, null, 2) + '\n', { mode: 0o600 });
console.log('registered: service/glance, demo/demo,', consumers.map((c) => `${c.projectName}/${c.username}`).join(', ') + ', image endpoints', suite.imageEndpoints.join(', '));
