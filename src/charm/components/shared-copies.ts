// The copies the leader shares through the peer relation, as another unit takes them: input from
// another machine, so bounded, parsed to the shape of images, and each one confirmed with the
// consumer's cloud (every unit has the consumers' credentials) before it is published.
import { BASES } from '../build-config.js';
import { MAX_PEER_VALUE, parseImages, type ImagesByBase } from '../images.js';
import type { Machine } from './machine.js';

/** The leader's copies in the peer app bag, under this key: `{ "<cloud>": { "<base>": image } }`. */
export const PEER_COPIES = 'consumer-copies';

/**
 * `current` with each shared copy of a known cloud that the cloud confirms as an active image of
 * its name; one the cloud does not have is left out, one it cannot be asked about waits for the
 * next peer change. Warnings go to `warn`.
 */
export async function confirmSharedCopies(
  machine: Machine,
  consumerCloudsYaml: string,
  clouds: readonly string[],
  text: string,
  current: Readonly<Record<string, ImagesByBase>>,
  warn: (message: string) => void,
): Promise<Record<string, ImagesByBase>> {
  const copies = { ...current };
  if (text.length > MAX_PEER_VALUE * 4) return copies;
  let shared: unknown;
  try {
    shared = JSON.parse(text);
  } catch {
    return copies;
  }
  if (!shared || typeof shared !== 'object') return copies;
  for (const cloud of clouds) {
    const claimed = parseImages(JSON.stringify((shared as Record<string, unknown>)[cloud] ?? {}));
    for (const base of BASES) {
      const claim = claimed[base];
      if (!claim || claim.id === copies[cloud]?.[base]?.id) continue;
      try {
        const found = await machine.cloud.findImage(machine.access(consumerCloudsYaml, cloud), claim.id);
        if (found?.status === 'active' && found.name === claim.name) copies[cloud] = { ...copies[cloud], [base]: { id: found.id, name: found.name, createdAt: found.createdAt } };
        else warn(`the leader shared ${base} image ${claim.id} for cloud ${cloud}, which that cloud does not have as an active ${claim.name}; not published`);
      } catch (err) {
        warn(`cloud ${cloud} could not confirm the leader's copy ${claim.id} (${(err as Error).message}); the next peer change asks again`);
      }
    }
  }
  return copies;
}
