// Quoting for the two places the charm writes shell: the cron line and the callback script.
// Every variable part is single-quoted, so no value can become shell syntax.

/** POSIX single-quote quoting: 'it'\''s' */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** cron turns an unescaped % into a newline; a backslash keeps it literal. */
export function escapeCronPercent(command: string): string {
  return command.replace(/%/g, '\\%');
}
