// Action results: flattened to dotted keys and checked against Juju's rules before action-set
// is called, so a bad key is a clear error in the charm rather than a failed tool call.
import { ModelError } from './errors.js';

const SEGMENT = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const RESERVED = new Set(['stdout', 'stdout-encoding', 'stderr', 'stderr-encoding']);

export type ActionResultValue = string | number | boolean | readonly unknown[] | { readonly [k: string]: ActionResultValue };

/**
 * Flattens `{a: {b: 1}}` to `{"a.b": "1"}`. Strings are sent as they are, numbers and booleans
 * with String(), arrays as JSON. Throws ModelError naming the offending key.
 */
export function flattenActionResults(results: Readonly<Record<string, ActionResultValue>>): Record<string, string> {
  const flat: Record<string, string> = {};
  const walk = (obj: Readonly<Record<string, ActionResultValue>>, prefix: string) => {
    for (const [key, value] of Object.entries(obj)) {
      const full = prefix ? `${prefix}.${key}` : key;
      for (const segment of key.split('.')) {
        if (!SEGMENT.test(segment)) {
          throw new ModelError(
            `invalid action result key ${JSON.stringify(full)}: each dot-separated part must be lowercase letters, digits and hyphens, starting and ending with a letter or digit`,
          );
        }
        if (RESERVED.has(segment)) {
          throw new ModelError(`invalid action result key ${JSON.stringify(full)}: "${segment}" is reserved by Juju for the action's output`);
        }
      }
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        walk(value as Record<string, ActionResultValue>, full);
        continue;
      }
      if (full in flat) throw new ModelError(`duplicate action result key ${JSON.stringify(full)}`);
      flat[full] = typeof value === 'string' ? value : Array.isArray(value) ? JSON.stringify(value) : String(value);
    }
  };
  walk(results, '');
  return flat;
}
