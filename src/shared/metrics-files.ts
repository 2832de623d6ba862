// What the charm, its build script and the exporter exchange: where the exporter listens, the
// metrics directory, and one type (with its parser) per state file in it. Both src/charm and
// src/exporter import this; the exporter imports nothing of the charm (eslint.config.js and
// test/exporter/imports.test.ts hold that), so it stays a small bundle with no charm code in it.
// This module imports nothing.
//
//   <dir>/unit.json          UnitFile, the charm, when what it knows changes
//   <dir>/build-<base>.json  BuildFile, the build script, after each build of <base>
//   <dir>/running.json       RunningFile, the build script, while a build runs
//   <dir>/copies-<cloud>.json CopiesFile, the copier after each run, per consumer cloud
//   <dir>/gone-<cloud>.json  GoneFile, the charm, when it replaced a published image found gone
//
// Each file has one writer, so no read-modify-write of one can lose another's update (the copier
// runs beside hooks; hooks run one at a time).
//
// The parsers take a parsed JSON object and give its valid parts and what is wrong with the rest:
// the exporter exports what it can and counts the rest in state_errors. Nothing here throws.

export const APP = 'github-runner-image-builder';

/** Root-owned 0755, files 0644; nothing secret. */
export const METRICS_DIR = `/var/lib/${APP}-metrics`;

/**
 * Where the exporter listens (systemd holds the socket) and the collector scrapes: IPv4 loopback,
 * never `localhost`, which resolves to ::1 where any local user can bind the port and serve metrics.
 */
export const METRICS_HOST = '127.0.0.1';
export const METRICS_PATH = '/metrics';

export const UNIT_FILE = 'unit.json';
export const RUNNING_FILE = 'running.json';
export const buildFileName = (base: string): string => `build-${base}.json`;
/** A build file's name; the base is group 1 (check it with BASE_NAME). */
export const BUILD_FILE_NAME = /^build-(.+)\.json$/;

/** A state file larger than this is refused unread. */
export const MAX_STATE_FILE_BYTES = 64 * 1024;
/** A base name as it may appear in a file name: no '/', no leading dot. */
export const BASE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The valid parts of a file, and one reason per part that was not. */
export interface Parsed<T> {
  readonly value: T;
  readonly problems: readonly string[];
}

const present = (v: unknown) => v !== undefined && v !== null;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A non-negative number field; absent (no problem) when missing or null. */
function numberField(obj: Record<string, unknown>, key: string, problems: string[]): number | undefined {
  const v = obj[key];
  if (!present(v)) return undefined;
  if (isCount(v)) return v;
  problems.push(`${key} is not a non-negative number`);
  return undefined;
}

// ---- unit.json (the charm) ----

/** unit.json as the charm writes it. */
export interface UnitFile {
  readonly arch: string;
  readonly bases: readonly string[];
  readonly leader: boolean;
  readonly interval_hours: number;
  /** Unix seconds. */
  readonly schedule_start: number;
  /** Per base, the image served; created_at in ISO 8601. */
  readonly images: Readonly<Record<string, { readonly id: string; readonly created_at: string }>>;
}

/** The text of unit.json. */
export function unitFileText(unit: UnitFile): string {
  return `${JSON.stringify(unit)}\n`;
}

export interface Image {
  readonly id?: string;
  /** created_at, in unix seconds. */
  readonly createdAt: number;
}

/** unit.json's valid parts. */
export interface UnitInfo {
  readonly arch?: string;
  /** undefined when unit.json gives no (valid) list: the bases are then those of the build files. */
  readonly bases?: readonly string[];
  readonly leader?: boolean;
  readonly intervalHours?: number;
  readonly scheduleStart?: number;
  readonly images: ReadonlyMap<string, Image>;
}

export function parseUnitFile(obj: Record<string, unknown>): Parsed<UnitInfo> {
  const problems: string[] = [];
  let arch: string | undefined;
  if (present(obj.arch)) {
    if (typeof obj.arch === 'string' && obj.arch.length > 0 && obj.arch.length <= 64) arch = obj.arch;
    else problems.push('arch is not a string of 1-64 characters');
  }
  let bases: string[] | undefined;
  if (present(obj.bases)) {
    if (Array.isArray(obj.bases)) {
      bases = [];
      for (const b of obj.bases) {
        if (typeof b === 'string' && BASE_NAME.test(b)) {
          if (!bases.includes(b)) bases.push(b);
        } else problems.push(`bases has an invalid base ${JSON.stringify(b)?.slice(0, 70)}`);
      }
    } else problems.push('bases is not a list');
  }
  let leader: boolean | undefined;
  if (present(obj.leader)) {
    if (typeof obj.leader === 'boolean') leader = obj.leader;
    else problems.push('leader is not a boolean');
  }
  const intervalHours = numberField(obj, 'interval_hours', problems);
  const scheduleStart = numberField(obj, 'schedule_start', problems);
  const images = new Map<string, Image>();
  if (present(obj.images)) {
    if (typeof obj.images === 'object' && !Array.isArray(obj.images)) {
      for (const [base, image] of Object.entries(obj.images as Record<string, unknown>)) {
        if (!present(image)) continue;
        const createdAt = typeof image === 'object' && !Array.isArray(image) ? (image as Record<string, unknown>).created_at : undefined;
        const id = typeof image === 'object' ? (image as Record<string, unknown>).id : undefined;
        const ms = typeof createdAt === 'string' ? Date.parse(createdAt) : NaN;
        if (Number.isFinite(ms)) images.set(base, { createdAt: ms / 1000, ...(typeof id === 'string' ? { id } : {}) });
        else problems.push(`images.${base.slice(0, 64)} has no valid created_at`);
      }
    } else problems.push('images is not an object');
  }
  return { value: { arch, bases, leader, intervalHours, scheduleStart, images }, problems };
}

// ---- build-<base>.json (the build script) ----

export const BUILD_FIELDS = ['started', 'succeeded', 'failed', 'consecutive_failures', 'last_duration_seconds', 'last_success_timestamp'] as const;
export type BuildField = (typeof BUILD_FIELDS)[number];
/** build-<base>.json as the build script writes it: counts, seconds and unix times. */
export type BuildFile = Readonly<Record<BuildField, number>>;
/** A build file's valid fields; a missing or invalid one is absent. */
export type BuildStats = Partial<Record<BuildField, number>>;

/** The valid ones of `fields` (non-negative numbers), and a problem per invalid one. */
function numberFields<F extends string>(obj: Record<string, unknown>, fields: readonly F[]): Parsed<Partial<Record<F, number>>> {
  const problems: string[] = [];
  const value: Partial<Record<F, number>> = {};
  for (const field of fields) {
    const v = numberField(obj, field, problems);
    if (v !== undefined) value[field] = v;
  }
  return { value, problems };
}

export function parseBuildFile(obj: Record<string, unknown>): Parsed<BuildStats> {
  return numberFields(obj, BUILD_FIELDS);
}

// ---- running.json (the build script) ----

/** running.json as the build script writes it while a build of `base` runs. */
export interface RunningFile {
  readonly base: string;
  /** Unix seconds. */
  readonly started: number;
}

/** The base being built, or undefined (with a problem) when running.json names none. */
export function parseRunningFile(obj: Record<string, unknown>): Parsed<string | undefined> {
  const base = obj.base;
  if (typeof base === 'string' && BASE_NAME.test(base)) return { value: base, problems: [] };
  return { value: undefined, problems: ['base is not a valid base name'] };
}

// ---- copies-<cloud>.json (the copier) and gone-<cloud>.json (the charm) ----

/**
 * A consumer cloud's name as it may appear in a file name and a label: src/openstack's
 * CLOUD_NAME_PATTERN (no '/', no leading dot), bounded so the file name stays short.
 */
export const COPY_CLOUD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
export const copiesFileName = (cloud: string): string => `copies-${cloud}.json`;
/** A copies file's name; the cloud is group 1 (check it with COPY_CLOUD_NAME). */
export const COPIES_FILE_NAME = /^copies-(.+)\.json$/;
export const goneFileName = (cloud: string): string => `gone-${cloud}.json`;
/** A gone file's name; the cloud is group 1 (check it with COPY_CLOUD_NAME). */
export const GONE_FILE_NAME = /^gone-(.+)\.json$/;

/** The copier's fields (copies-<cloud>.json). */
export const COPIER_FIELDS = ['succeeded', 'failed', 'last_duration_seconds', 'last_bytes'] as const;
/** The charm's fields (gone-<cloud>.json). */
export const GONE_FIELDS = ['gone_replaced'] as const;
/** Every per-cloud field the exporter shows. */
export const COPY_FIELDS = [...COPIER_FIELDS, ...GONE_FIELDS] as const;
export type CopyField = (typeof COPY_FIELDS)[number];
/**
 * copies-<cloud>.json: copies into the cloud that succeeded (a reused identical image counts) and
 * failed, the last copy's seconds and bytes moved (0 for a reuse).
 */
export type CopiesFile = Readonly<Record<(typeof COPIER_FIELDS)[number], number>>;
/** gone-<cloud>.json: how many published images the charm found gone there and replaced. */
export type GoneFile = Readonly<Record<(typeof GONE_FIELDS)[number], number>>;
export type CopyStats = Partial<Record<CopyField, number>>;

export function parseCopiesFile(obj: Record<string, unknown>): Parsed<CopyStats> {
  return numberFields(obj, COPIER_FIELDS);
}

export function parseGoneFile(obj: Record<string, unknown>): Parsed<CopyStats> {
  return numberFields(obj, GONE_FIELDS);
}
