/**
 * The layers of lib/, checked by dependency-cruiser (`npm run lint`). Arrows point down only:
 *   cli → relay → streams → loop / net / tls → pollset, fd → native, errors
 * An import from a lower layer into a higher one, or any cycle (type-only imports included: a cycle of types
 * still ties the files' designs together), fails the lint.
 */
const layers = [
  ['cli', '^lib/cli/'],
  ['relay', '^lib/relay/'],
  ['streams', '^lib/streams/'],
  ['loop, net, tls', '^lib/(loop|net|tls)/'],
  ['pollset, fd', '^lib/(pollset|pollset-batches|fd)\\.ts$'],
  ['native, errors', '^lib/(native|errors|dispose)\\.ts$'],
];

const upward = layers.flatMap(([name, path], i) =>
  layers.slice(0, i).map(([above, abovePath]) => ({
    name: `no-upward-${name.replace(/\W+/g, '-')}-to-${above.replace(/\W+/g, '-')}`,
    comment: `${name} is below ${above}: it may not import it`,
    severity: 'error',
    from: { path },
    to: { path: abovePath },
  })),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Files in a cycle cannot be understood or tested one at a time',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'no-index-inside-lib',
      comment: 'lib/index.ts is the package entry: nothing inside lib imports it',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^lib/index\\.ts$' },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
  },
};
