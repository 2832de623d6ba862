// Every piece of text an error exposes (message, stack, JSON, inspect, the whole cause chain),
// for tests that assert no secret leaks through any of them.
import { inspect } from 'node:util';

export function allText(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 10; depth++) {
    const e = cur as Error;
    parts.push(String(e.message), String(e.stack), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }));
    cur = e.cause;
  }
  return parts.join('\n');
}
