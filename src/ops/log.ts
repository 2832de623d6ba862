// Charm logging through juju-log. Every juju-log call is a process plus an agent round trip, so
// records are buffered and sent at the end of the dispatch, one call per run of equal level
// (an uncaught error is added before the flush, so it is never lost). A charm calls flush()
// (Framework.flushLogs) before a long step, so its records reach Juju before the step and a
// dispatch killed during it loses only what was logged after.
import type { Backend } from './backend.js';
import type { LogLevel } from './hookcmds.js';

// Juju's juju-log takes at most ~128 KiB per message (ops splits at 131071).
const MAX_MESSAGE = 131_071;

export class Logger {
  private records: { level: LogLevel; message: string }[] = [];

  constructor(private readonly backend: Backend) {}

  debug(message: string): void {
    this.records.push({ level: 'DEBUG', message });
  }
  info(message: string): void {
    this.records.push({ level: 'INFO', message });
  }
  warning(message: string): void {
    this.records.push({ level: 'WARNING', message });
  }
  error(message: string): void {
    this.records.push({ level: 'ERROR', message });
  }

  /** Sends what is buffered. Failures to log must not hide the charm's own outcome. */
  flush(): void {
    const records = this.records;
    this.records = [];
    let i = 0;
    while (i < records.length) {
      const level = records[i]!.level;
      const lines: string[] = [];
      while (i < records.length && records[i]!.level === level) lines.push(records[i++]!.message);
      const text = lines.join('\n');
      for (let off = 0; off < text.length || off === 0; off += MAX_MESSAGE) {
        try {
          this.backend.jujuLog(level, text.slice(off, off + MAX_MESSAGE));
        } catch (err) {
          process.stderr.write(`juju-log failed (${(err as Error).message}); ${level}: ${text}\n`);
          break;
        }
        if (text.length === 0) break;
      }
    }
  }
}
