// A config-changed with nothing to do. Juju fires config-changed when no option changed too (after
// install, on every agent restart), and the full reconcile costs a YAML parse, the clouds.yaml
// validator, the renderers and node:crypto: ~30 ms a hook. So each full reconcile leaves in the
// unit state what it applied: a digest of its inputs and the signature of every file it manages.
// A later config-changed with the same digest, on a host whose files still have those
// signatures, skips the reconcile. A file someone removed or edited differs, so config-changed
// still repairs the host; the unit state is committed with the rest of the hook's state, so a
// hook that failed half-way leaves the previous record and changed files, and reconciles again.
//
// The digest is SHA-256 (node:crypto): the config holds the OpenStack password, which must not be
// in the unit state. (A SHA-256 in JavaScript, @noble/hashes, saved loading node:crypto's ~3.5 ms
// but lost them again to V8 optimising its loop, with 4 MB more peak RSS: measured, not kept.)
import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import type { Host } from './host.js';
import { BUILD_ENV_PATH, BUILD_SCRIPT_PATH, CLOUDS_YAML_PATH, CRON_PATH, EXPORTER_UNIT_PATH, INSTALLED_MARKER_PATH, LOGROTATE_PATH, SCRIPT_SECRETS_ENV_PATH } from './paths.js';

/** Every file a reconcile writes (or its setup marks): a change to any of them means "not steady". */
const MANAGED_PATHS = [INSTALLED_MARKER_PATH, CLOUDS_YAML_PATH, BUILD_ENV_PATH, SCRIPT_SECRETS_ENV_PATH, BUILD_SCRIPT_PATH, LOGROTATE_PATH, CRON_PATH, EXPORTER_UNIT_PATH] as const;

/** Bumped when what a reconcile depends on changes shape, so an old record never matches. */
const RECORD_VERSION = 2;

/** Everything a reconcile's outcome depends on besides the host itself. */
export interface AppliedInputs {
  /** The options as config-get gave them (the secret option is its URI). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The credentials secret's content, when the config names one (digested, never kept). */
  readonly secret: Readonly<Record<string, string>> | undefined;
  /** The script secret's content, when the config names one (digested, never kept). */
  readonly scriptSecret?: Readonly<Record<string, string>> | undefined;
  /** The model's proxy settings (JUJU_CHARM_*_PROXY). */
  readonly proxy: Readonly<Record<string, string | undefined>>;
  readonly leader: boolean;
  /** Where the charm and its node are, and PATH: the scripts and the exporter's unit name them. */
  readonly charmDir: string;
  readonly node: string;
  readonly path: string;
}

/** What the unit state keeps of the last full reconcile. */
export interface AppliedRecord {
  /** SHA-256 of the inputs (never the inputs: the config holds the password). */
  readonly digest: string;
  /** Per managed path: inode, size, mtime, mode and owner, or null when absent. */
  readonly files: Readonly<Record<string, string | null>>;
}

function fileSignature(host: Host, prodPath: string): string | null {
  try {
    const st = lstatSync(host.path(prodPath), { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.mode}:${st.uid}:${st.gid}`;
  } catch {
    return null;
  }
}

const digestOf = (inputs: AppliedInputs): string =>
  createHash('sha256').update(JSON.stringify([RECORD_VERSION, inputs.config, inputs.secret ?? null, inputs.scriptSecret ?? null, inputs.proxy, inputs.leader, inputs.charmDir, inputs.node, inputs.path])).digest('hex');

/** Whether the last full reconcile (`record`) applied exactly these inputs, and the managed files are untouched since. */
export function isSteady(host: Host, inputs: AppliedInputs, record: AppliedRecord | undefined): boolean {
  if (!record || typeof record.files !== 'object' || record.files === null || record.digest !== digestOf(inputs)) return false;
  return MANAGED_PATHS.every((p) => record.files[p] === fileSignature(host, p));
}

/** The record of a reconcile that applied `inputs`, for the unit state. */
export function appliedRecord(host: Host, inputs: AppliedInputs): AppliedRecord {
  return { digest: digestOf(inputs), files: Object.fromEntries(MANAGED_PATHS.map((p) => [p, fileSignature(host, p)])) };
}
