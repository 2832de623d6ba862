// The Prometheus text format 0.0.4 as the exporter writes it: escaping, values, families.
import { describe, expect, it } from 'vitest';
import { CONTENT_TYPE, escapeHelp, escapeLabelValue, formatLabels, formatValue, renderFamilies } from '../../src/exporter/exposition.js';

describe('exposition format', () => {
  it('announces version 0.0.4', () => {
    expect(CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('escapes backslash, double quote and line feed in label values, and nothing else', () => {
    expect(escapeLabelValue('plain-1.0_x')).toBe('plain-1.0_x');
    expect(escapeLabelValue('a\\b')).toBe('a\\\\b');
    expect(escapeLabelValue('say "hi"')).toBe('say \\"hi\\"');
    expect(escapeLabelValue('two\nlines')).toBe('two\\nlines');
    expect(escapeLabelValue('\\"\n')).toBe('\\\\\\"\\n');
    expect(escapeLabelValue("tab\t, cr\r, quote ', unicode é ☃, brace }")).toBe("tab\t, cr\r, quote ', unicode é ☃, brace }");
  });

  it('escapes backslash and line feed in HELP text, not double quotes', () => {
    expect(escapeHelp('a "b" c\\d\ne')).toBe('a "b" c\\\\d\\ne');
  });

  it('writes values Go parses: integers, decimals, exponents, special values', () => {
    expect(formatValue(0)).toBe('0');
    expect(formatValue(1767225600)).toBe('1767225600');
    expect(formatValue(1.5)).toBe('1.5');
    expect(formatValue(-2)).toBe('-2');
    expect(formatValue(1e21)).toBe('1e+21');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
  });

  it('writes labels in the order given, leaves out undefined and empty ones, refuses invalid names', () => {
    expect(formatLabels({})).toBe('');
    expect(formatLabels({ arch: undefined })).toBe('');
    expect(formatLabels({ base: 'noble', arch: 'x64' })).toBe('{base="noble",arch="x64"}');
    expect(formatLabels({ base: 'no"ble', arch: '' })).toBe('{base="no\\"ble"}');
    expect(() => formatLabels({ 'bad-name': 'x' })).toThrow(/invalid label name/);
    expect(() => formatLabels({ __name__: 'x' })).toThrow(/invalid label name/);
  });

  it('renders HELP, TYPE and the samples of each family, skipping families without samples', () => {
    const text = renderFamilies([
      { name: 'x_total', type: 'counter', help: 'Things\ncounted \\ here.', samples: [{ labels: { base: 'a' }, value: 1 }, { labels: { base: 'b\n' }, value: 2 }] },
      { name: 'empty', type: 'gauge', help: 'Nothing.', samples: [] },
      { name: 'y', type: 'gauge', help: 'Why.', samples: [{ labels: {}, value: 0.25 }] },
    ]);
    expect(text).toBe(
      '# HELP x_total Things\\ncounted \\\\ here.\n' +
        '# TYPE x_total counter\n' +
        'x_total{base="a"} 1\n' +
        'x_total{base="b\\n"} 2\n' +
        '# HELP y Why.\n' +
        '# TYPE y gauge\n' +
        'y 0.25\n',
    );
    expect(renderFamilies([])).toBe('');
    expect(() => renderFamilies([{ name: '1bad', type: 'gauge', help: '', samples: [] }])).toThrow(/invalid metric name/);
  });
});
