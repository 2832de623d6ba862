// Each component's stored state, checked when it is loaded. The unit state file passes the
// framework's envelope check with any JSON in a component's bag: a field of the wrong shape
// (a string where an object was) would otherwise crash every hook, stop and remove included.
// A bad field is logged at ERROR and reset to its default (absent); the unit goes on.
import type { Framework, StoredState } from '../../ops/index.js';

/** Whether a stored value has its field's shape. */
export type Check = (value: unknown) => boolean;
/** One check per field of a component's stored state. */
export type Shape<T> = { readonly [K in keyof T]-?: Check };

/** A component's stored state under `name`, each present field checked against `shape`. */
export function checkedState<T extends Record<string, unknown>>(framework: Pick<Framework, 'storedState' | 'log'>, name: string, shape: Shape<T>): StoredState<T> {
  const stored = framework.storedState<T>(name, {} as T);
  const data = stored.data as Record<string, unknown>;
  const bad = Object.keys(shape).filter((k) => k in data && !(shape as Record<string, Check>)[k]!(data[k]));
  if (bad.length > 0) {
    framework.log.error(`unit state: ${bad.map((k) => `${name}.${k}`).join(', ')} had the wrong shape and ${bad.length === 1 ? 'was' : 'were'} reset (the unit goes on without ${bad.length === 1 ? 'it' : 'them'})`);
    stored.set(Object.fromEntries(bad.map((k) => [k, undefined])) as Partial<T>);
  }
  return stored;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks for the shapes stored fields take. */
export const is = {
  string: (v: unknown): boolean => typeof v === 'string',
  true: (v: unknown): boolean => v === true,
  int: (v: unknown): boolean => Number.isSafeInteger(v),
  strings: (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string'),
  /** An object whose listed fields pass their checks (absent ones only where `optional`). */
  record:
    (fields: Readonly<Record<string, Check>>, optional: readonly string[] = []): Check =>
    (v) =>
      isObject(v) && Object.entries(fields).every(([k, check]) => (optional.includes(k) && !(k in v)) || check(v[k])),
  /** An object whose every value passes `check`, with keys from `keys` when given. */
  mapOf:
    (check: Check, keys?: readonly string[]): Check =>
    (v) =>
      isObject(v) && Object.entries(v).every(([k, x]) => (!keys || keys.includes(k)) && check(x)),
};
