// Lint config: typescript-eslint's recommended rules over the TypeScript sources and tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'build/**', '*.charm', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', AbortSignal: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The exporter is its own small program: it shares only src/shared with the charm (issue 21).
  {
    files: ['src/exporter/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./(?!shared/)', message: 'src/exporter imports only node: modules, its own modules and src/shared (what it shares with the charm lives there)' }] }],
    },
  },
  // What both sides share imports nothing of either.
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./', message: 'src/shared imports nothing from src/charm, src/exporter or src/ops' }] }],
    },
  },
);
