import { describe, expect, it } from 'vitest';
import { flattenActionResults } from '../../src/ops/action-results.js';

describe('action result keys (Juju rules, checked before action-set)', () => {
  it.each(['foo', '500', '5-o-0', 'foo.bar', 'foo-bar.baz'])('accepts %s', (key) => {
    expect(Object.keys(flattenActionResults({ [key]: 'v' }))).toEqual([key]);
  });
  it.each(['-foo', 'foo-', 'foo!bar', 'foo..bar', '.foo', 'Foo', 'foo_bar', ''])('refuses %s', (key) => {
    expect(() => flattenActionResults({ [key]: 'v' })).toThrow(/invalid action result key/);
  });
  it.each(['stdout', 'stderr', 'stdout-encoding', 'a.stderr-encoding'])('refuses reserved %s', (key) => {
    expect(() => flattenActionResults({ [key]: 'v' })).toThrow(/reserved by Juju/);
  });
  it('flattens nested objects and stringifies values', () => {
    expect(flattenActionResults({ a: { b: 1, c: true }, d: [1, 2], e: 'x' })).toEqual({ 'a.b': '1', 'a.c': 'true', d: '[1,2]', e: 'x' });
  });
  it('refuses a key given twice', () => {
    expect(() => flattenActionResults({ a: { b: '1' }, 'a.b': '2' })).toThrow(/duplicate action result key "a.b"/);
  });
});
