// OpenStack credentials from a Juju user secret, merged into the clouds.yaml the charm writes
// (root-only): the config then needs no password at all. Juju secret keys cannot hold "_".
import { isMap, parseDocument } from 'yaml';

export interface Credentials {
  readonly password?: string;
  readonly applicationCredentialSecret?: string;
}

/** The secret's keys, and the clouds.yaml auth fields they fill. */
export const SECRET_KEYS = { password: 'password', applicationCredentialSecret: 'application-credential-secret' } as const;
const AUTH_FIELDS = { password: 'password', applicationCredentialSecret: 'application_credential_secret' } as const;

/** The credentials in a secret's content, or undefined when it has neither key. */
export function credentialsFrom(content: Readonly<Record<string, string>>): Credentials | undefined {
  const creds: { password?: string; applicationCredentialSecret?: string } = {};
  for (const [field, key] of Object.entries(SECRET_KEYS) as [keyof Credentials, string][]) {
    if (content[key]) creds[field] = content[key];
  }
  return Object.keys(creds).length ? creds : undefined;
}

/** The chosen cloud's auth mapping: `wanted`, or the first cloud. */
function authOf(text: string, wanted: string) {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) return undefined;
  const clouds = doc.get('clouds');
  if (!isMap(clouds) || clouds.items.length === 0) return undefined;
  const name = wanted || String((clouds.items[0]!.key as { value?: unknown })?.value ?? clouds.items[0]!.key);
  const cloud = clouds.get(name);
  if (!isMap(cloud)) return undefined;
  return { doc, cloud, auth: cloud.get('auth') };
}

/**
 * The clouds.yaml text with the credentials set in the chosen cloud's auth (replacing what the
 * config had there). Text that is not a usable clouds.yaml comes back unchanged, for the
 * validator to explain.
 */
export function withCredentials(text: string, wanted: string, creds: Credentials): string {
  const found = authOf(text, wanted);
  if (!found) return text;
  const { doc, cloud } = found;
  let auth = found.auth;
  if (!isMap(auth)) {
    cloud.set('auth', doc.createNode({}));
    auth = cloud.get('auth');
  }
  if (!isMap(auth)) return text;
  for (const [field, authField] of Object.entries(AUTH_FIELDS) as [keyof Credentials, string][]) {
    if (creds[field] !== undefined) auth.set(authField, creds[field]);
  }
  return doc.toString();
}

/** Whether the chosen cloud's auth in the config holds a password or an application-credential secret. */
export function hasPlainCredentials(text: string, wanted: string): boolean {
  const auth = authOf(text, wanted)?.auth;
  return isMap(auth) && Object.values(AUTH_FIELDS).some((f) => auth.has(f));
}
