// typescript-eslint's strict config over the TypeScript sources; `npm run lint` (and CI) runs it.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'cache/',
      'outputs/',
      'node_modules/',
      'src/pipeline/schema-validate.generated.ts',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  eslint.configs.recommended,
  tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // ANSI escapes and control characters are matched on purpose (terminal output, CSV cells).
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
