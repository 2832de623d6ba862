#!/usr/bin/env node
// Every test file belongs to exactly one test tier (the vitest projects in vitest.config.ts):
// a file in none would never run, a file in two would run twice. Asks vitest itself which
// files each project collects (`vitest list --filesOnly`, which imports no test), compares
// with the *.test.* files in the repository, and exits 1 naming each misplaced file.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..');
const SKIP_DIRS = new Set(['node_modules', '.git', '.tmp', 'dist', 'build']);
const TEST_FILE = /\.test\.[cm]?[jt]sx?$/;

/** Test files under `dir`, relative to the repository. */
function testFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...testFiles(full));
    } else if (entry.isFile() && TEST_FILE.test(entry.name)) out.push(path.relative(repo, full));
  }
  return out;
}

/** Tiers by file, as vitest collects them. */
function tiersByFile() {
  const vitest = path.join(repo, 'node_modules/vitest/vitest.mjs');
  const r = spawnSync(process.execPath, [vitest, 'list', '--filesOnly', '--json'], { cwd: repo, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) {
    process.stderr.write(`check-tiers: \`vitest list --filesOnly --json\` exited ${r.status}:\n${r.stderr}`);
    process.exit(2);
  }
  const byFile = new Map();
  for (const { file, projectName } of JSON.parse(r.stdout)) {
    const rel = path.relative(repo, file);
    byFile.set(rel, [...(byFile.get(rel) ?? []), projectName ?? '(no project)']);
  }
  return byFile;
}

const byFile = tiersByFile();
const problems = [];
for (const file of testFiles(repo).sort()) {
  const tiers = byFile.get(file) ?? [];
  if (tiers.length === 0) problems.push(`${file}: in no tier; add it to one in vitest.config.ts`);
  else if (tiers.length > 1) problems.push(`${file}: in ${tiers.length} tiers (${tiers.join(', ')}); keep it in one in vitest.config.ts`);
}
if (problems.length > 0) {
  process.stderr.write(`check-tiers: every test file belongs to exactly one tier:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
const counts = {};
for (const tiers of byFile.values()) counts[tiers[0]] = (counts[tiers[0]] ?? 0) + 1;
process.stdout.write(`check-tiers: ${byFile.size} test files, each in one tier (${Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(', ')})\n`);
