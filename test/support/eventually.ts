// Polling for what happens in the background (builds report back through juju-exec).

/**
 * Resolves with `check`'s first truthy value; fails naming `what` after `timeoutMs`. The default
 * is sized for a loaded 2-core machine: running out of it means a hang, not slowness.
 */
export async function eventually<T>(what: string, check: () => T | undefined | false, timeoutMs = 300_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}
