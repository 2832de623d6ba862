// The canary password in a Juju user secret instead of the config: through install, a build,
// get-latest, a rotation, a revoke and the recovery, it is in no file but clouds.yaml (and
// Juju's own secret store), and not in the config store.
import { it } from 'vitest';
import { BUILD_RUNNING_PATH } from '../../src/charm/paths.js';
import { CANARY, checkLeaks, checkOutcome, cloudsYaml, eventually, goodConfig, newUnit, waitIdle } from './support.js';
import { tally } from './tally.js';

export function registerSecretLeaks(): void {
  it('credentials in a secret: install, build, get-latest, rotation, revoke, grant: the password leaves neither the secret nor clouds.yaml', async ({ expect }) => {
    const h = await newUnit(goodConfig(cloudsYaml().replace(/ *password:.*\n/, '')));
    const u = h.u;
    const id = u.addUserSecret({ password: CANARY }, { grant: true });
    u.setConfig({ 'openstack-credentials-secret': id });
    u.setHostKnob('next-image-id', 'img-first');
    expect.soft(checkOutcome(await h.dispatch('install'), { code: 0 }, 'install with a secret')).toEqual([]);
    await eventually('the first build', () => u.builds().length === 1 && !u.readHostFile(BUILD_RUNNING_PATH));
    await h.dispatch({ action: 'get-latest' }); // the cloud is a closed port: fails, saying so
    u.updateSecret(id, { password: `${CANARY}-rotated` });
    expect.soft(checkOutcome(await h.dispatch('secret-changed', { secret: { id } }), { code: 0 }, 'rotation')).toEqual([]);
    u.revokeSecret(id);
    await h.dispatch('config-changed');
    expect.soft(u.unitStatus().status).toBe('blocked');
    u.grantSecret(id);
    await h.dispatch('update-status');
    expect.soft(u.unitStatus().status).toBe('active');
    await waitIdle(u);
    tally.faults++;
    expect.soft(JSON.stringify(u.config()), 'the config store').not.toContain(CANARY);
    expect.soft(checkLeaks(h, 'credentials in a secret')).toEqual([]);
  });
}
