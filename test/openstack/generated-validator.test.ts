// The committed validator must be exactly what the generator makes from the schema today.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DTS_PATH, JS_PATH, generate } from '../../scripts/openstack/gen-validator.mjs';

describe('generated clouds.yaml validator', () => {
  it('is up to date with clouds-schema.json (else run: node scripts/openstack/gen-validator.mjs)', () => {
    const { js, dts } = generate();
    expect(readFileSync(JS_PATH, 'utf8')).toBe(js);
    expect(readFileSync(DTS_PATH, 'utf8')).toBe(dts);
  });

  it('needs nothing at run time: no imports, no require', () => {
    const js = readFileSync(JS_PATH, 'utf8');
    expect(js).not.toMatch(/\brequire\(|^\s*import\b/m);
  });
});
