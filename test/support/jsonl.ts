// JSON-lines files that stand-ins (hook tools, the builder, juju-exec) append to while a test
// polls them.
import { existsSync, readFileSync } from 'node:fs';

/**
 * The complete lines of a JSON-lines file another process appends to. A line still being
 * written (the file just created, or the first part of a write) is left for the next read, so
 * a test polling the file never parses half a line.
 */
export function readJsonLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
