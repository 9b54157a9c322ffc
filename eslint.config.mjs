// Lint rules for the TypeScript sources: typescript-eslint's type-checked recommended set.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'build-*/**', 'prebuilds/**', 'node_modules/**', 'bench/**'] },
  {
    files: ['lib/**/*.ts', 'test/**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Unused arguments named with a leading underscore are placeholders a signature requires.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `import x = require('m')` is how TypeScript imports a CommonJS module whose types use `export =`.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // Tasks and promises pass on whatever the code they ran threw, which JavaScript lets be any value;
      // wrapping it would change what a caller's catch receives.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      // Address and Error print themselves (toString); numbers and booleans print as expected.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowBoolean: true,
          allow: [
            { name: ['Error', 'Address'], from: 'file' },
            { name: 'Error', from: 'lib' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read JSON lines and reports from child processes, and the shape of that data is exactly what
      // each test asserts with expect(); declaring a type for every line would restate the assertion.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Tests hand the native layer and the API values of the wrong type on purpose (`x as any`), to check
      // the errors a careless JavaScript caller gets.
      '@typescript-eslint/no-explicit-any': 'off',
      // Tests load the compiled dist/ (what worker threads and bin/ run) or a build chosen at run time.
      '@typescript-eslint/no-require-imports': 'off',
      // Tests collect child processes' output chunk by chunk (`out += chunk`, Buffers included) and print
      // whatever they got in failure messages.
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
);
