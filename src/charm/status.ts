// The unit's status, computed in one place from what the unit knows: the config problem, the
// last outcome (newest image, last failure), the build bookkeeping and unsafe cloud settings.
import { ActiveStatus, BlockedStatus, MaintenanceStatus, type Status } from '../ops/index.js';
import type { RunningBuild } from './builder.js';
import type { ImageInfo } from './cloud-port.js';
import { BUILD_LOG_PATH, BUILD_TIMEOUT_SECONDS, SKIPPED_RUNS_WARNING } from './paths.js';

export interface StatusInput {
  /** Why the config is invalid (blocked), if it is. */
  readonly configProblem?: string | undefined;
  /** The unit was stopped: no more scheduled builds. */
  readonly stopped?: boolean | undefined;
  /** The image `id` publishes (the first configured base's). */
  readonly image?: ImageInfo | undefined;
  /** This unit does not lead: it serves what the leader built (named when it published itself). */
  readonly standingBy?: { readonly leader?: string | undefined } | undefined;
  readonly lastFailure?: { readonly at: string; readonly reason: string } | undefined;
  readonly running?: RunningBuild | undefined;
  /** What the running build does (build-phase), shown while the first image is awaited. */
  readonly phase?: string | undefined;
  readonly skippedRuns: number;
  readonly cloudWarnings: readonly string[];
  /** The builder's setup waits for the running build to end. */
  readonly setupOwed?: boolean | undefined;
  readonly now: Date;
}

/** The longest status message the charm sets: status-set takes it on its command line. */
export const MAX_STATUS_TEXT = 1024;

/**
 * A status message as the charm sets it: one printable line (control characters, newlines and
 * terminal escapes become spaces) of at most MAX_STATUS_TEXT characters, whatever text from a
 * peer, the cloud or a program's error it carries.
 */
export function statusText(message: string): string {
  // eslint-disable-next-line no-control-regex
  const line = message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
  return line.length > MAX_STATUS_TEXT ? `${line.slice(0, MAX_STATUS_TEXT - 1)}…` : line;
}

/** The unit's status, its message bounded by statusText. */
export function unitStatus(s: StatusInput): Status {
  const status = composeStatus(s);
  return { ...status, message: statusText(status.message) };
}

function composeStatus(s: StatusInput): Status {
  if (s.stopped) return MaintenanceStatus('Stopped: no scheduled builds');
  if (s.configProblem) return BlockedStatus(s.configProblem);
  const serving = s.image ? `image ${s.image.id} (${s.image.createdAt})` : undefined;
  let msg: string;
  if (s.standingBy) {
    const who = s.standingBy.leader ? `${s.standingBy.leader} (the leader)` : 'the leader';
    msg = `Standing by: ${who} builds; ${serving ? `serving ${serving}` : 'waiting for the first image'}`;
  } else if (s.lastFailure && (!s.image || s.lastFailure.at > s.image.createdAt)) {
    msg = `Last build failed at ${s.lastFailure.at} (${s.lastFailure.reason}); see ${BUILD_LOG_PATH}`;
    if (serving) msg += `; serving ${serving}`;
  } else {
    msg = serving ? `Serving ${serving}` : `Waiting for first image${s.phase ? ` (${s.phase})` : ''}`;
  }
  return ActiveStatus([msg, ...buildProblems(s), ...s.cloudWarnings.map((w) => `warning: ${w}`)].join('; '));
}

/** A build holding the lock past its timeout, or scheduled runs that found the lock taken. */
function buildProblems(s: StatusInput): string[] {
  const problems: string[] = [];
  if (s.setupOwed) problems.push('the builder is set up (upgraded) once the running build has ended');
  const running = s.running;
  // timeout kills a build after BUILD_TIMEOUT_SECONDS (+60 s); one still there is wedged.
  if (running && s.now.getTime() - running.startedAt.getTime() > (BUILD_TIMEOUT_SECONDS + 300) * 1000) {
    problems.push(`a build has held the build lock since ${running.startedAt.toISOString()}, past the ${BUILD_TIMEOUT_SECONDS / 3600} h build timeout: check its processes (ps -s ${running.session}) and end them (kill -- -${running.session})`);
  }
  if (s.skippedRuns >= SKIPPED_RUNS_WARNING) {
    problems.push(`the last ${s.skippedRuns} scheduled builds were skipped because the build lock was taken${running ? ` (by the build started ${running.startedAt.toISOString()})` : ''}; see ${BUILD_LOG_PATH}`);
  }
  return problems;
}
