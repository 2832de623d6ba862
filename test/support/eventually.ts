// Polling for what happens in the background (builds report back through juju-exec).

/**
 * How long a test helper waits for something that takes milliseconds on an idle machine before
 * calling it a hang. Sized for a loaded 2-core machine on a cold disk (a fresh CI machine flushing
 * its package installs): running out of it means a hang, not slowness. It stays under every
 * tier's test timeout (vitest.config.ts), so the helper's message, which says what it waited
 * for, is the one reported.
 */
export const HANG_MS = 300_000;

/**
 * A check that read a file another process is still writing or has not written yet (gone,
 * half a JSON text): not yet, rather than a failure. Any other error fails at once.
 */
function notYet(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT' || err instanceof SyntaxError;
}

/**
 * Resolves with `check`'s first truthy value; fails naming `what` after `timeoutMs` (default: a
 * hang, see HANG_MS), with the last error the check threw while the files it reads were not
 * ready (see notYet).
 */
export async function eventually<T>(what: string, check: () => T | undefined | false, timeoutMs = HANG_MS): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = check();
      if (value) return value;
    } catch (err) {
      if (!notYet(err)) throw err;
      last = err;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${(last as Error).message})` : ''}`, { cause: last });
    await new Promise((r) => setTimeout(r, 40));
  }
}
