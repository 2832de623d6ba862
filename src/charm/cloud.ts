// The charm's use of the OpenStack client: check the clouds.yaml option, and find images.
// Loaded lazily by the handlers that need the network, so other hooks do not pay for it.
import { CLOUD_NAME_PATTERN, CloudsYamlError, cloudWarnings, parseCloudsYaml, resolveCloud } from '../openstack/clouds.js';
import { quoteCloudName } from '../openstack/cloud-name.js';
import type { CloudIdentity } from './build-config.js';
import type { CloudAccess, ImageInfo, PublishedCheck } from './cloud-port.js';

/**
 * The cloud to use and what is unsafe about it (verify: false, plain http to another host), or
 * one-line problems that each name openstack-clouds-yaml or cloud-name.
 */
export function checkCloudsYaml(text: string, wanted: string): { cloudName: string; identity: CloudIdentity; warnings: string[] } | { problems: string[] } {
  let parsed;
  try {
    parsed = parseCloudsYaml(text);
  } catch (err) {
    if (err instanceof CloudsYamlError) return { problems: err.problems.map((p) => `openstack-clouds-yaml: ${p}`) };
    throw err;
  }
  // Both values come from the operator and end up in the status line: keep them short.
  const names = offer(parsed.names);
  if (wanted && !CLOUD_NAME_PATTERN.test(wanted)) {
    return { problems: [`cloud-name ${quoteCloudName(wanted)} may contain only letters, digits, ".", "_" and "-"; use one of: ${names}`] };
  }
  if (wanted && !parsed.names.includes(wanted)) {
    return { problems: [`cloud-name ${quoteCloudName(wanted)} is not in openstack-clouds-yaml; use one of: ${names} (or leave it empty for the first)`] };
  }
  const cloud = resolveCloud(parsed, wanted);
  return { cloudName: cloud.name, identity: identityOf(cloud), warnings: cloudWarnings(cloud) };
}

/** Who the builder is in the cloud (what its init resources belong to); no secret in it. */
function identityOf(cloud: ReturnType<typeof resolveCloud>): CloudIdentity {
  const inDomain = (what: string | undefined, domain: string | undefined) => (what ? `${what}${domain ? `@${domain}` : ''}` : '');
  return {
    authUrl: cloud.authUrl,
    project: inDomain(cloud.projectName ?? cloud.projectId, cloud.projectDomainName ?? cloud.projectDomainId),
    user: cloud.applicationCredentialId || cloud.applicationCredentialName ? `application-credential:${cloud.applicationCredentialId ?? cloud.applicationCredentialName}` : inDomain(cloud.username ?? cloud.userId, cloud.userDomainName ?? cloud.userDomainId),
  };
}

/** The first few cloud names, comma-separated (a clouds.yaml may define thousands). */
function offer(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).map((n) => (n.length > 40 ? `${n.slice(0, 37)}...` : n));
  return names.length > max ? `${shown.join(', ')} and ${names.length - max} more` : shown.join(', ');
}

async function client(access: CloudAccess) {
  const { OpenStackClient } = await import('../openstack/client.js');
  return new OpenStackClient(resolveCloud(parseCloudsYaml(access.cloudsYaml), access.cloudName), { proxy: access.proxy });
}

/** What the charm keeps of a Glance image. */
const info = (image: { id: string; name: string; createdAt: string }): ImageInfo => ({ id: image.id, name: image.name, createdAt: image.createdAt });

/** The newest active image of each name (null where none), with one authentication. */
export async function findLatestImages(access: CloudAccess, names: readonly string[]): Promise<(ImageInfo | null)[]> {
  const c = await client(access);
  const out: (ImageInfo | null)[] = [];
  for (const name of names) {
    const image = await c.getLatestImage(name);
    out.push(image ? info(image) : null);
  }
  return out;
}

/** One image by id with its Glance status, or null when the cloud does not have it. */
export async function findImage(access: CloudAccess, id: string): Promise<(ImageInfo & { readonly status: string }) | null> {
  const image = await (await client(access)).getImage(id);
  return image ? { ...info(image), status: image.status } : null;
}

/** Each published image as the cloud has it, and for one that is gone or not active the newest active image of its name. */
export async function checkPublished(access: CloudAccess, images: readonly { readonly id: string; readonly name: string }[]): Promise<PublishedCheck[]> {
  const c = await client(access);
  const out: PublishedCheck[] = [];
  for (const { id, name } of images) {
    const image = await c.getImage(id);
    const found = image ? { ...info(image), status: image.status } : null;
    if (found?.status === 'active') {
      out.push({ id, found });
      continue;
    }
    const latest = await c.getLatestImage(name);
    out.push({ id, found, latest: latest ? info(latest) : null });
  }
  return out;
}
