// Errors the framework raises. Messages name what failed and never carry hook-tool stdin
// (relation data, action results), which may hold secrets.

/** The process was not started the way Juju starts a charm (a variable is missing or malformed). */
export class ContextError extends Error {
  override name = 'ContextError';
}

/** A hook tool exited non-zero. */
export class HookToolError extends Error {
  override name = 'HookToolError';
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    detail?: string,
  ) {
    const shown = [tool, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
    const why = detail ?? (exitCode === null ? 'was killed or could not start' : `exited with code ${exitCode}`);
    const err = stderr.trim();
    super(`hook tool \`${shown}\` ${why}${err ? `: ${err}` : ''}`);
  }
}

/** Juju answered "relation not found" (the relation is gone or the id is wrong). */
export class RelationNotFoundError extends HookToolError {
  override name = 'RelationNotFoundError';
}

/** The model does not match what the charm declared (config types, endpoints, action keys). */
export class ModelError extends Error {
  override name = 'ModelError';
}
