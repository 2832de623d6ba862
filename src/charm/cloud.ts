// The charm's use of the OpenStack client: check the clouds.yaml option, and find images.
// Loaded lazily by the handlers that need the network, so other hooks do not pay for it.
import { CLOUD_NAME_PATTERN, CloudsYamlError, parseCloudsYaml, resolveCloud } from '../openstack/clouds.js';

export interface ImageInfo {
  readonly id: string;
  readonly name: string;
  /** ISO 8601, as Glance reports it. */
  readonly createdAt: string;
}

/** The cloud to use, or one-line problems that each name openstack-clouds-yaml or cloud-name. */
export function checkCloudsYaml(text: string, wanted: string): { cloudName: string } | { problems: string[] } {
  let parsed;
  try {
    parsed = parseCloudsYaml(text);
  } catch (err) {
    if (err instanceof CloudsYamlError) return { problems: err.problems.map((p) => `openstack-clouds-yaml: ${p}`) };
    throw err;
  }
  const names = parsed.names;
  if (wanted && !CLOUD_NAME_PATTERN.test(wanted)) {
    return { problems: [`cloud-name ${JSON.stringify(wanted).slice(0, 40)} may contain only letters, digits, ".", "_" and "-"; use one of: ${names.join(', ')}`] };
  }
  if (wanted && !names.includes(wanted)) {
    return { problems: [`cloud-name "${wanted}" is not in openstack-clouds-yaml; use one of: ${names.join(', ')} (or leave it empty for the first)`] };
  }
  return { cloudName: resolveCloud(parsed, wanted).name };
}

async function client(cloudsYaml: string, cloudName: string) {
  const { OpenStackClient } = await import('../openstack/client.js');
  return new OpenStackClient(resolveCloud(parseCloudsYaml(cloudsYaml), cloudName));
}

/** The newest active image with this name, or null. At most two HTTP requests. */
export async function findLatestImage(cloudsYaml: string, cloudName: string, name: string): Promise<ImageInfo | null> {
  const image = await (await client(cloudsYaml, cloudName)).getLatestImage(name);
  return image ? { id: image.id, name: image.name, createdAt: image.createdAt } : null;
}

/** One image by id, or null when the cloud does not have it. */
export async function findImage(cloudsYaml: string, cloudName: string, id: string): Promise<ImageInfo | null> {
  const image = await (await client(cloudsYaml, cloudName)).getImage(id);
  return image ? { id: image.id, name: image.name, createdAt: image.createdAt } : null;
}
