// clouds.yaml, read the way openstacksdk reads the fields operators use, and checked against
// clouds-schema.json by a validator compiled at build time (generated/clouds-validator.js).
// The text comes from an operator (a Juju config option), so parsing is defensive: size cap,
// alias-bomb cap, one document, unique keys; and no problem line ever quotes a value.
import { LineCounter, parseDocument } from 'yaml';
import { CLOUD_NAME_PATTERN, isValidCloudName, quoteCloudName } from './cloud-name.js';
import { describeValidationErrors, kindOf } from './clouds-problems.js';
import validateClouds from './generated/clouds-validator.js';

export { CLOUD_NAME_PATTERN, isValidCloudName };
// Here too, so a hook that parses clouds.yaml gets the warnings from the same module.
export { cloudWarnings } from './warnings.js';

/** Bigger input is refused before parsing: a real clouds.yaml is a few hundred bytes. */
export const MAX_CLOUDS_YAML_BYTES = 1024 * 1024;
/** Aliases expanded per document; more means a "billion laughs" document. */
const MAX_ALIAS_COUNT = 100;

export type EndpointInterface = 'public' | 'internal' | 'admin';

/** One cloud, normalised: what the client needs to authenticate and find endpoints. */
export interface CloudConfig {
  readonly name: string;
  readonly authType: 'password' | 'application_credential';
  /** The Keystone v3 root, e.g. https://keystone.example:5000/v3 (no trailing slash). */
  readonly authUrl: string;
  readonly username?: string | undefined;
  readonly userId?: string | undefined;
  readonly password?: string | undefined;
  readonly userDomainName?: string | undefined;
  readonly userDomainId?: string | undefined;
  readonly projectName?: string | undefined;
  readonly projectId?: string | undefined;
  readonly projectDomainName?: string | undefined;
  readonly projectDomainId?: string | undefined;
  readonly applicationCredentialId?: string | undefined;
  readonly applicationCredentialName?: string | undefined;
  readonly applicationCredentialSecret?: string | undefined;
  readonly regionName?: string | undefined;
  readonly interface: EndpointInterface;
  /** Path of a PEM file with the CA(s) to trust for this cloud. */
  readonly cacert?: string | undefined;
  /** false for `verify: false`: TLS certificates are not checked. */
  readonly verify: boolean;
}

export interface ParsedClouds {
  /** Cloud names in document order (the first is the default). */
  readonly names: readonly string[];
  readonly clouds: Readonly<Record<string, CloudConfig>>;
}

/** clouds.yaml cannot be used; `problems` has one line per problem, naming cloud and field. */
export class CloudsYamlError extends Error {
  override readonly name = 'CloudsYamlError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/**
 * The last document parsed and its (deeply frozen) result. A hook checks the config and then
 * builds a client from the same text; parsing it again would cost ~2 ms of a short process.
 */
let last: { readonly text: string; readonly parsed: ParsedClouds } | undefined;

/** Parses and validates a clouds.yaml document; throws CloudsYamlError listing every problem. */
export function parseCloudsYaml(text: string): ParsedClouds {
  if (last !== undefined && last.text === text) return last.parsed;
  const parsed = parseFresh(text);
  last = { text, parsed };
  return parsed;
}

function parseFresh(text: string): ParsedClouds {
  if (typeof text !== 'string') throw new CloudsYamlError(['clouds.yaml must be text']);
  if (text.length > MAX_CLOUDS_YAML_BYTES || Buffer.byteLength(text, 'utf8') > MAX_CLOUDS_YAML_BYTES) {
    throw new CloudsYamlError([
      `clouds.yaml is larger than 1 MiB (${Buffer.byteLength(text, 'utf8')} bytes); a clouds.yaml is a few hundred bytes, is this the right file?`,
    ]);
  }
  const data = loadYaml(text);
  if (data === null || data === undefined) {
    throw new CloudsYamlError(['clouds.yaml is empty; it needs a top-level "clouds:" mapping']);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new CloudsYamlError([`clouds.yaml must be a mapping with a top-level "clouds:" key, not ${kindOf(data)}`]);
  }
  if (!validateClouds(data)) {
    throw new CloudsYamlError(describeValidationErrors(validateClouds.errors ?? [], data));
  }
  // The schema has checked every field used below.
  const raw = (data as { clouds: Record<string, RawCloud> }).clouds;
  const names = Object.keys(raw);
  const problems: string[] = [];
  const clouds: Record<string, CloudConfig> = Object.create(null) as Record<string, CloudConfig>;
  for (const name of names) {
    const cloud = normalise(name, raw[name] as RawCloud, problems);
    if (cloud) clouds[name] = cloud;
  }
  if (problems.length) throw new CloudsYamlError(problems);
  return Object.freeze({ names: Object.freeze(documentOrder(text, names)), clouds: Object.freeze(clouds) });
}

/**
 * The cloud called `name`, or the first one in the document when `name` is empty or absent.
 * Throws CloudsYamlError naming the clouds that exist when there is no such cloud.
 */
export function resolveCloud(parsed: ParsedClouds, name?: string): CloudConfig {
  if (!name) {
    const first = parsed.names[0];
    const cloud = first === undefined ? undefined : parsed.clouds[first];
    if (!cloud) throw new CloudsYamlError(['clouds.yaml defines no clouds']);
    return cloud;
  }
  if (!isValidCloudName(name)) {
    throw new CloudsYamlError([
      `cloud name ${quoteCloudName(name)} is not valid: use letters, digits, ".", "_" and "-" (starting with a letter or digit); clouds.yaml defines: ${parsed.names.join(', ')}`,
    ]);
  }
  const cloud = Object.prototype.hasOwnProperty.call(parsed.clouds, name) ? parsed.clouds[name] : undefined;
  if (!cloud) {
    throw new CloudsYamlError([`cloud ${quoteCloudName(name)} is not in clouds.yaml; it defines: ${parsed.names.join(', ')}`]);
  }
  return cloud;
}

function loadYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  // merge: PyYAML (and so openstacksdk) honours "<<: *defaults"; operators use it.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, merge: true, lineCounter });
  if (doc.errors.length) {
    throw new CloudsYamlError(
      doc.errors.slice(0, 5).map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        if (e.code === 'MULTIPLE_DOCS') return `clouds.yaml holds more than one YAML document (a second starts at line ${line}); give one document`;
        return `clouds.yaml is not valid YAML at line ${line}, column ${col}: ${safeYamlMessage(e.message)}`;
      }),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/resource exhaustion|alias count/i.test(msg)) {
      throw new CloudsYamlError([`clouds.yaml expands too many YAML aliases (more than ${MAX_ALIAS_COUNT}); write the values out`]);
    }
    throw new CloudsYamlError([`clouds.yaml cannot be read: ${safeYamlMessage(msg)}`]);
  }
}

/** The yaml library's message up to its first ": " (after which it may quote the source). */
function safeYamlMessage(message: string): string {
  const head = message.split(/:\s/)[0] ?? message;
  const line = head.split('\n')[0] ?? head;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** Object.keys puts integer-like keys first; put the names back in the order the text has them. */
function documentOrder(text: string, names: string[]): string[] {
  if (!names.some((n) => /^(0|[1-9][0-9]*)$/.test(n))) return names;
  const doc = parseDocument(text, { merge: true });
  const clouds = doc.get('clouds', true) as { items?: { key?: { value?: unknown } }[] } | undefined;
  const ordered = (clouds?.items ?? []).map((pair) => String(pair.key?.value));
  return ordered.length === names.length && ordered.every((n) => names.includes(n)) ? ordered : names;
}

interface RawAuth {
  auth_url: string;
  username?: string;
  user_id?: string;
  password?: string;
  project_name?: string;
  project_id?: string;
  tenant_name?: string;
  tenant_id?: string;
  user_domain_name?: string;
  user_domain_id?: string;
  project_domain_name?: string;
  project_domain_id?: string;
  domain_name?: string;
  domain_id?: string;
  application_credential_id?: string;
  application_credential_name?: string;
  application_credential_secret?: string;
}

interface RawCloud {
  auth_type?: string;
  auth: RawAuth;
  region_name?: string;
  interface?: string;
  endpoint_type?: string;
  cacert?: string;
  verify?: boolean;
}

const SECRET_FIELDS = ['password', 'applicationCredentialSecret'] as const;

function normalise(name: string, raw: RawCloud, problems: string[]): CloudConfig | undefined {
  const where = `cloud ${quoteCloudName(name)}`;
  const a = raw.auth;
  const authUrl = normaliseAuthUrl(a.auth_url);
  if (authUrl === undefined) {
    problems.push(`${where}: auth.auth_url points at the Keystone v2.0 API; use the v3 URL (ending in /v3)`);
    return undefined;
  }
  const iface = (raw.interface ?? raw.endpoint_type ?? 'public').replace(/URL$/, '') as EndpointInterface;
  const appCred = raw.auth_type === 'v3applicationcredential';
  const cloud: CloudConfig = {
    name,
    authType: appCred ? 'application_credential' : 'password',
    authUrl,
    username: a.username,
    userId: a.user_id,
    password: appCred ? undefined : a.password,
    userDomainName: a.user_domain_name ?? (a.user_domain_id ? undefined : a.domain_name),
    userDomainId: a.user_domain_id ?? (a.user_domain_name ? undefined : a.domain_id),
    projectName: appCred ? undefined : (a.project_name ?? a.tenant_name),
    projectId: appCred ? undefined : (a.project_id ?? a.tenant_id),
    projectDomainName: a.project_domain_name ?? (a.project_domain_id ? undefined : a.domain_name),
    projectDomainId: a.project_domain_id ?? (a.project_domain_name ? undefined : a.domain_id),
    applicationCredentialId: appCred ? a.application_credential_id : undefined,
    applicationCredentialName: appCred ? a.application_credential_name : undefined,
    applicationCredentialSecret: appCred ? a.application_credential_secret : undefined,
    regionName: raw.region_name,
    interface: iface,
    cacert: raw.cacert,
    verify: raw.verify ?? true,
  };
  return withRedaction(cloud);
}

/** auth_url with /v3 at the end (openstacksdk discovers it; we only speak v3); undefined for v2. */
function normaliseAuthUrl(url: string): string | undefined {
  const trimmed = url.trim().replace(/\/+$/, '');
  if (/\/v2\.0$/.test(trimmed)) return undefined;
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}

/**
 * Freezes the cloud and makes JSON.stringify and console.log/util.inspect show "***" instead
 * of the password and secret, so logging a cloud by mistake does not leak them.
 */
function withRedaction(cloud: CloudConfig): CloudConfig {
  const redacted = (): Record<string, unknown> => {
    const copy: Record<string, unknown> = { ...cloud };
    for (const field of SECRET_FIELDS) if (copy[field] !== undefined) copy[field] = '***';
    for (const key of Object.keys(copy)) if (copy[key] === undefined) delete copy[key];
    return copy;
  };
  Object.defineProperty(cloud, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(cloud, Symbol.for('nodejs.util.inspect.custom'), { value: redacted, enumerable: false });
  return Object.freeze(cloud);
}
