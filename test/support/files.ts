// Files that other processes (stand-in hook tools, the builder, juju-exec, the build script)
// write, append to or remove while a test polls them: read without a check-then-read race.
import { readFileSync } from 'node:fs';

/**
 * A file's text, or undefined when it is not there (also when it went between a check and the
 * read, or, for a /proc/<pid> file, when the process ended: ESRCH).
 */
export function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
}

/**
 * The complete lines of a JSON-lines file another process appends to. A line still being
 * written (the file just created, or the first part of a write) is left for the next read, so
 * a test polling the file never parses half a line.
 */
export function readJsonLines<T>(file: string): T[] {
  const text = readIfPresent(file) ?? '';
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
