// Lint: TypeScript rules plus the layer rule — imports point one way only:
// shaders → gpu → engine → worker → state → ui; core is pure and used by all; cli is the Node door.
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((dir) => ({ group: [`**/${dir}/**`, `**/${dir}`], message: why })),
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', '.gpu/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  layer(
    ['src/core/**'],
    ['gpu', 'engine', 'worker', 'state', 'ui', 'cli'],
    'src/core is pure TypeScript: no GPU, engine, UI or CLI imports.',
  ),
  layer(['src/gpu/**'], ['engine', 'worker', 'state', 'ui', 'cli'], 'src/gpu sits below the engine.'),
  layer(['src/engine/**'], ['worker', 'state', 'ui', 'cli'], 'src/engine never imports the worker, store, UI or CLI.'),
  layer(['src/worker/**'], ['state', 'ui', 'cli'], 'src/worker never imports the store, UI or CLI.'),
  layer(
    ['src/state/**'],
    ['ui', 'cli', 'gpu', 'engine'],
    'src/state reaches the engine only through the worker client.',
  ),
  layer(
    ['src/ui/**'],
    ['gpu', 'engine', 'cli'],
    'the UI talks to the engine only through the store and the worker client.',
  ),
  {
    // Model-provided strings (names, chat templates, generated text) are never rendered as HTML.
    files: ['src/ui/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']",
          message: 'no HTML from strings: render text as React children (Content-Security-Policy, issue 10).',
        },
        {
          selector: 'MemberExpression[property.name=/^(innerHTML|outerHTML)$/]',
          message: 'no HTML from strings: set textContent or render React children (issue 10).',
        },
        {
          selector: 'CallExpression[callee.property.name=/^(insertAdjacentHTML|createContextualFragment)$/]',
          message: 'no HTML from strings (issue 10).',
        },
      ],
    },
  },
);
