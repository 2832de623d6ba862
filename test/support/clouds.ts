// A clouds.yaml for tests whose cloud is not reached (a closed port), with a canary password
// that must never appear outside the clouds.yaml the charm writes.
export const CANARY = 'canary-Pa55w0rd-do-not-leak';

export const cloudsYaml = (authUrl = 'http://127.0.0.1:1/v3', name = 'testcloud') => `clouds:
  ${name}:
    auth:
      auth_url: ${authUrl}
      username: demo
      password: ${CANARY}
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`;
