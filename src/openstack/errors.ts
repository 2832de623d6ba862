// One error type for everything that goes wrong talking to a cloud. Its text ends up in Juju
// status lines and logs that many people read, so it is built to be safe to show: secrets are
// removed from every string it carries (message, stack, cause), and response bodies only
// contribute a short, scrubbed, single-line excerpt.
import { quoteCloudName } from './cloud-name.js';

export type OpenStackErrorKind =
  /** Keystone (or Glance) refused the credentials or the token: HTTP 401/403. */
  | 'auth'
  /** No TCP connection: refused, unreachable, DNS, reset. */
  | 'network'
  /** No complete answer within the timeout. */
  | 'timeout'
  /** The TLS handshake failed (unknown CA, bad host name, expired...). */
  | 'tls'
  /** Any other non-2xx answer, e.g. HTTP 5xx. */
  | 'http'
  /** A 2xx answer that is not what the API promises (not JSON, fields missing). */
  | 'malformed'
  /** The service catalog has no endpoint for the service, interface and region asked for. */
  | 'catalog'
  /** The cloud's settings cannot be used (e.g. cacert unreadable, bad URL). */
  | 'config'
  /**
   * The model's HTTP(S) proxy failed the request: it cannot be reached, refused it (HTTP 407
   * wants credentials, 403...), or its setting is unusable. The message names the proxy without
   * credentials and the settings to check.
   */
  | 'proxy'
  /**
   * An image copy between clouds was not accepted: the source image is not usable (missing, not
   * active), a copy's data differs from the source's, or every try failed (the message names
   * each try's failure).
   */
  | 'copy';

export interface OpenStackErrorInit {
  readonly kind: OpenStackErrorKind;
  readonly cloud: string;
  /** The whole sentence after `cloud "<name>": `; it should name the URL and status. */
  readonly detail: string;
  readonly url?: string | undefined;
  readonly status?: number | undefined;
  /** Strings that must not appear anywhere in the error (passwords, secrets, tokens). */
  readonly secrets?: readonly (string | undefined)[];
  /** The low-level failure; only its code and scrubbed message are kept. */
  readonly cause?: unknown;
}

export class OpenStackError extends Error {
  override readonly name = 'OpenStackError';
  readonly kind: OpenStackErrorKind;
  readonly cloud: string;
  readonly url: string | undefined;
  readonly status: number | undefined;

  constructor(init: OpenStackErrorInit) {
    const secrets = init.secrets ?? [];
    const message = scrub(`cloud ${quoteCloudName(init.cloud)}: ${init.detail}`, secrets);
    const cause = init.cause === undefined ? undefined : safeCause(init.cause, secrets);
    super(message, cause === undefined ? undefined : { cause });
    this.kind = init.kind;
    this.cloud = init.cloud;
    this.url = init.url === undefined ? undefined : scrub(redactUrl(init.url), secrets);
    this.status = init.status;
  }
}

/** Secrets shorter than this are not replaced: they would mangle every word of the text. */
const MIN_SECRET_LENGTH = 3;

/** `text` with every occurrence of each secret (raw, URL-encoded or JSON-escaped) replaced. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SECRET_LENGTH) continue;
    const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
    for (const form of forms) out = out.split(form).join('***');
  }
  return out;
}

/** A URL without user:password@ (which some operators put in auth_url) and without a fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password && !u.hash) return url;
    u.username = '';
    u.password = '';
    u.hash = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}

/**
 * A stand-in for a low-level error: a fresh Error with the original's code and scrubbed message,
 * and the same for its own cause (one level), so nothing the original held (request objects,
 * sockets, headers) is reachable from the OpenStackError.
 */
function safeCause(err: unknown, secrets: readonly (string | undefined)[], depth = 0): Error {
  const code = errorCode(err);
  const rawMessage = err instanceof Error ? err.message : String(err);
  const message = scrub(rawMessage, secrets).slice(0, 300);
  const inner = err instanceof Error && err.cause !== undefined && depth < 1 ? safeCause(err.cause, secrets, depth + 1) : undefined;
  const safe = new Error(code ? `${code}: ${message}` : message, inner === undefined ? undefined : { cause: inner });
  safe.name = err instanceof Error ? scrub(err.name, secrets).slice(0, 60) : 'Error';
  if (code) (safe as Error & { code?: string }).code = code;
  // The stack would say where the stand-in was made, which is this file: of no use to anyone.
  safe.stack = `${safe.name}: ${safe.message}`;
  return safe;
}

/** The `code` of a Node/undici error (ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT...), if any. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]{2,60}$/.test(code) ? code : undefined;
}
