// The script secret (`script-secret-id`): a Juju user secret whose keys the builder app hands to
// the `script-url` script. The app takes them from its environment, IMAGE_BUILDER_SECRET_<KEY>,
// so they travel in a root-only env file the build script sources for `run` only: never on a
// command line, in a log, a status, an action result or relation data. The messages name the
// option and the secret's URI and key names, never a value.
import { SecretNotFoundError, SecretPermissionError } from '../ops/errors.js';
import { shQuote } from './shell.js';

export const SCRIPT_SECRET_OPTION = 'script-secret-id';
/** The app passes every variable with this prefix to the script, without it (cli.py SECRET_PREFIX). */
export const SCRIPT_SECRET_ENV_PREFIX = 'IMAGE_BUILDER_SECRET_';
/** Juju's secret keys (lowercase, digits, inner dashes), which become variable names with `_` for `-`. */
const SECRET_KEY = /^[a-z](?:-?[a-z0-9])*$/;
/** More than this in one secret is refused: it all lands in the app's environment. */
const MAX_TOTAL_BYTES = 64 * 1024;

export type ScriptSecret = { readonly env: Readonly<Record<string, string>> } | { readonly problem: string } | { readonly none: true };

/** A secret key as the app's environment variable: `api-key` -> IMAGE_BUILDER_SECRET_api_key. */
export function scriptSecretVariable(key: string): string {
  return `${SCRIPT_SECRET_ENV_PREFIX}${key.replace(/-/g, '_')}`;
}

/**
 * The script secret's variables, or what is wrong (same wording and recovery as
 * openstack-credentials-secret's), or nothing when the option is empty. `read` returns the
 * secret's latest content and throws the framework's secret errors.
 */
export function readScriptSecret(uri: string | undefined, app: string, read: (uri: string) => Record<string, string>): ScriptSecret {
  if (!uri) return { none: true };
  const option = SCRIPT_SECRET_OPTION;
  let content: Record<string, string>;
  try {
    content = read(uri);
  } catch (err) {
    if (err instanceof SecretPermissionError) return { problem: `${option}: this application may not read secret ${uri}; grant it: juju grant-secret ${uri} ${app}` };
    if (err instanceof SecretNotFoundError) {
      return { problem: `${option}: secret ${uri} does not exist; create one with the values your script needs (juju add-secret image-builder-script api-key=...), grant it (juju grant-secret image-builder-script ${app}) and set its URI (juju config ${app} ${option}=<uri>)` };
    }
    throw err;
  }
  const keys = Object.keys(content).sort();
  if (keys.length === 0) return { problem: `${option}: secret ${uri} has no keys; add the values your script needs: juju update-secret ${uri} api-key=...` };
  const bad = keys.filter((k) => !SECRET_KEY.test(k));
  if (bad.length) return { problem: `${option}: secret ${uri} has keys that cannot be environment variable names (${bad.slice(0, 3).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}); use lowercase letters, digits and inner dashes` };
  const env: Record<string, string> = {};
  let total = 0;
  for (const key of keys) {
    const variable = scriptSecretVariable(key);
    if (variable in env) return { problem: `${option}: secret ${uri} has keys that become the same variable ${variable}; rename one` };
    env[variable] = content[key]!;
    total += Buffer.byteLength(content[key]!) + variable.length;
  }
  if (total > MAX_TOTAL_BYTES) return { problem: `${option}: secret ${uri} holds ${total} bytes; the builder's environment takes at most ${MAX_TOTAL_BYTES}: keep only what the script needs` };
  return { env };
}

/**
 * The env file the build script sources for `run` (root-only, 0600): `export K='v'` lines, every
 * value single-quoted (a newline in a value stays in it).
 */
export function renderScriptSecretsEnv(env: Readonly<Record<string, string>>): string {
  return `# Written by the github-runner-image-builder charm from ${SCRIPT_SECRET_OPTION}; changes are overwritten.\n${Object.entries(env)
    .map(([k, v]) => `export ${k}=${shQuote(v)}\n`)
    .join('')}`;
}
