// Runs a TypeScript script (e.g. scripts/try.ts) on plain Node 20, without a TS runtime.
import path from 'node:path';
import { importTs } from './import-ts.mjs';

const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(entry), ...rest];
await importTs(entry);
