// The README's framework example is code that compiles: test/ops/types/readme-example.ts (type-
// checked with the tests) holds it between markers, and the README shows exactly that text.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('README framework example', () => {
  it('is the compiled example, with the import paths of a charm in src/', () => {
    const source = readFileSync(new URL('./types/readme-example.ts', import.meta.url), 'utf8');
    const example = source.split('// README example begins\n')[1]!.split('// README example ends\n')[0]!;
    const asInReadme = example.replaceAll('../../../src/ops/', './ops/').replaceAll('../../../src/charm/generated/', './generated/');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('```ts\n' + asInReadme + '```\n');
  });
});
