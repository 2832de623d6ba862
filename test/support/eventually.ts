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
 * Resolves with `check`'s first truthy value; fails naming `what` after `timeoutMs` (default: a
 * hang, see HANG_MS).
 */
export async function eventually<T>(what: string, check: () => T | undefined | false, timeoutMs = HANG_MS): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}
