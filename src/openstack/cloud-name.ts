// Cloud names end up in file names, cron lines and command arguments (the builder is called
// as `... run <cloud> ...`), so the charm refuses anything that a shell could read as syntax.

/** What a cloud name may look like: a letter or digit, then letters, digits, '.', '_' or '-'. */
export const CLOUD_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** True when `name` is a cloud name that is safe to pass around unquoted. */
export function isValidCloudName(name: string): boolean {
  return CLOUD_NAME_PATTERN.test(name);
}

/** A cloud name for a message: JSON-quoted (so control characters stay visible), and short. */
export function quoteCloudName(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length > 66 ? `${quoted.slice(0, 62)}..."` : quoted;
}
