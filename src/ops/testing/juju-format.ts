// How Juju's hook tools read their arguments and print their answers (docs/juju-hook-contract.md §3):
// Go's gnuflag parsing, `ERROR <message>` failures with exit 2 (usage) or 1 (run time), and the
// `--format smart|json|yaml` printers. Pure: no I/O, so the in-memory backend and the stand-in
// hook tools (test/fakes) share it.

/** A tool failed: `ERROR <message>` on stderr and this exit code. */
export class ToolFailure extends Error {
  constructor(
    readonly code: 1 | 2,
    message: string,
  ) {
    super(message);
  }
}

/** A usage error (Init in Go): exit 2. */
export function usage(message: string): never {
  throw new ToolFailure(2, message);
}

/** A run-time error (Run in Go): exit 1. */
export function runtimeError(message: string): never {
  throw new ToolFailure(1, message);
}

/** Go's %q, for the strings we meet. */
export const q = (s: string): string => JSON.stringify(s);
/** Go's %q of a []string. */
export const qlist = (list: readonly string[]): string => `[${list.map(q).join(' ')}]`;

export const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

/** Sets an own property, even `__proto__` (keys come from charms and tests). */
export function put<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Byte order of the UTF-8 encodings, as Go's sort.Strings and jq order keys. */
function byteOrder(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isContainer = (v: unknown): v is object => typeof v === 'object' && v !== null;
const sizeOf = (v: object): number => (Array.isArray(v) ? v.length : Object.keys(v).length);

const STRUCT = Symbol('go struct');
/**
 * Marks an object as a Go struct: Go's JSON and YAML printers keep a struct's fields in
 * declaration order (maps are sorted). Returns the object.
 */
export function goStruct<T extends object>(fields: T): T {
  Object.defineProperty(fields, STRUCT, { value: true, enumerable: false });
  return fields;
}
const isStruct = (v: object): boolean => (v as { [STRUCT]?: boolean })[STRUCT] === true;
const sortedEntries = (o: Record<string, unknown>): [string, unknown][] => (isStruct(o) ? Object.entries(o) : Object.entries(o).sort(([a], [b]) => byteOrder(a, b)));

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (isObject(v)) return Object.fromEntries(sortedEntries(v).map(([k, x]) => [k, sortKeysDeep(x)]));
  return v;
}

/** Go's json.Marshal: sorted keys, `<>&` and U+2028/U+2029 escaped. */
function goJson(v: unknown): string {
  return JSON.stringify(sortKeysDeep(v) ?? null).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// --- YAML, as goyaml prints the values hook tools print ------------------------------------------
const PLAIN = /^[A-Za-z0-9_./][^\x00-\x1f]*$/; // eslint-disable-line no-control-regex
const INDICATOR = /: | #|:$|\s$/;
const BOOLISH = /^(?:y|n|yes|no|on|off|true|false|null|~)$/i;
const NUMBERISH = /^[-+]?[0-9._]+([eE][-+]?[0-9]+)?$/;
const RADIX = /^0[xo]/;

function yamlScalar(v: unknown): string {
  if (typeof v === 'string') {
    const plain = PLAIN.test(v) && !INDICATOR.test(v) && !BOOLISH.test(v) && !NUMBERISH.test(v) && !RADIX.test(v);
    return plain ? v : JSON.stringify(v);
  }
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(v);
}

function yamlInline(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (isObject(v)) return '{}';
  return yamlScalar(v);
}

function yamlLines(v: unknown, indent: string): string[] {
  if (isObject(v) && sizeOf(v) > 0) {
    return sortedEntries(v).flatMap(([k, value]) => {
      const key = yamlScalar(k);
      if (isContainer(value) && sizeOf(value) > 0) {
        return [`${indent}${key}:`, ...(Array.isArray(value) ? yamlLines(value, indent) : yamlLines(value, `${indent}  `))];
      }
      return [`${indent}${key}: ${yamlInline(value)}`];
    });
  }
  if (Array.isArray(v) && v.length > 0) {
    return v.flatMap((item: unknown) => {
      if (isContainer(item) && sizeOf(item) > 0) {
        const lines = yamlLines(item, `${indent}  `);
        lines[0] = `${indent}- ${lines[0]!.slice(indent.length + 2)}`;
        return lines;
      }
      return [`${indent}- ${yamlInline(item)}`];
    });
  }
  return [yamlInline(v)];
}

const yamlDoc = (v: unknown): string => yamlLines(v, '').join('\n');

/** Juju's "smart" format: strings raw, booleans True/False, string lists one a line, nil as nothing, else YAML. */
function smart(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join('\n');
  return yamlDoc(v);
}

/** What a tool prints for `value` in `format` (cmd.Output adds the newline). */
export function render(value: unknown, format: string): string {
  const text = format === 'json' ? goJson(value) : format === 'yaml' ? (value === null || value === undefined ? '' : yamlDoc(value)) : smart(value);
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

// --- gnuflag ---------------------------------------------------------------------------------------
/** `s`: takes a value; `b`: boolean; `d`: a deprecated --format that takes a value and is not checked. */
export interface Flag {
  readonly t: 's' | 'b' | 'd';
  /** The option it sets (several spellings may set one). */
  readonly k: string;
}
export type FlagSpec = Readonly<Record<string, Flag>>;

export const S = (k: string): Flag => ({ t: 's', k });
export const B = (k: string): Flag => ({ t: 'b', k });
export const DEPRECATED_FORMAT: FlagSpec = { format: { t: 'd', k: 'fmtflag' } };
export const FORMAT: FlagSpec = { format: S('format'), o: S('output'), output: S('output') };

export interface Parsed {
  /** Option values by key: strings, or booleans for `b` flags. */
  readonly o: Readonly<Record<string, string | boolean>>;
  /** How each valued option was spelled (`-r`, `--relation`), for messages. */
  readonly as: Readonly<Record<string, string>>;
  readonly args: readonly string[];
}

function parseBool(v: string, flag: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return usage(`invalid value ${q(v)} for option ${flag}: strconv.ParseBool: parsing ${q(v)}: invalid syntax`);
}

/** gnuflag: `--flag=v`, `--flag v`, `-r 3`, `--` ends flags, flags may follow positionals. */
export function parseFlags(argv: readonly string[], spec: FlagSpec): Parsed {
  const o: Record<string, string | boolean> = {};
  const as: Record<string, string> = {};
  const args: string[] = [];
  let done = false;
  for (let i = 0; i < argv.length; ) {
    const a = argv[i]!;
    if (done || !a.startsWith('-') || a === '-') {
      args.push(a);
      i++;
      continue;
    }
    if (a === '--') {
      done = true;
      i++;
      continue;
    }
    const long = a.startsWith('--');
    const body = a.slice(long ? 2 : 1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const shown = `${long ? '--' : '-'}${name}`;
    const flag = hasOwn(spec, name) ? spec[name] : undefined;
    if (!flag || name === '' || ([...name].length === 1) === long) usage(`flag provided but not defined: ${shown}`);
    if (flag.t === 'b') {
      put(o, flag.k, eq >= 0 ? parseBool(body.slice(eq + 1), shown) : true);
      i++;
    } else if (eq >= 0) {
      put(o, flag.k, body.slice(eq + 1));
      put(as, flag.k, shown);
      i++;
    } else if (i + 1 < argv.length) {
      put(o, flag.k, argv[i + 1]!);
      put(as, flag.k, shown);
      i += 2;
    } else {
      usage(`flag needs an argument: ${shown}`);
    }
  }
  const format = o.format;
  if (format !== undefined && !['smart', 'json', 'yaml'].includes(String(format)) && spec.format?.t !== 'd') {
    usage(`invalid value ${q(String(format))} for option ${as.format}: unknown format ${q(String(format))}`);
  }
  return { o, as, args };
}

/** Usage error unless there are no positional arguments. */
export function noArgs(p: Parsed): void {
  if (p.args.length > 0) usage(`unrecognized args: ${qlist(p.args)}`);
}

/** Usage error for positional arguments beyond `max`. */
export function atMost(p: Parsed, max: number): void {
  if (p.args.length > max) usage(`unrecognized args: ${qlist(p.args.slice(max))}`);
}
