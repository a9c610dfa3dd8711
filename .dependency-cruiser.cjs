// The import rules of docs/architecture.md, checked by `npm run check:deps` (part of `npm test`).
// Packages depend in one direction: protocol → schema → policy → functions → server → cli, and
// protocol → schema → functions → client → react. Tests may import any package (they start real servers).
/** Forbids imports from a package to any package not listed as below it. */
function layer(name, allowed) {
  const ok = [name, ...allowed].join('|');
  return {
    name: `layer-${name}`,
    comment: `${name} may import only ${allowed.length ? allowed.join(', ') : 'no other Mast package'}`,
    severity: 'error',
    from: { path: `^packages/${name}/src/` },
    to: { path: '^packages/', pathNot: `^packages/(${ok})/` },
  };
}

// The layer order inside the server (docs/architecture.md, "Inside the server"), top to bottom.
// A folder may import folders of the tiers below its own, never one above, nor a sibling of its
// own tier. Tests beside the code may compose any folders.
const SERVER_TIERS = [
  ['app'],
  ['http', 'ws'],
  ['core'],
  ['session'],
  ['functions'],
  ['auth', 'live', 'crdt'],
  ['changes'],
  ['entities'],
  ['access'],
  ['store'],
  ['limits', 'config', 'metrics', 'clock'],
  ['errors'],
];

/** Forbids imports from one server folder to a folder of its own tier or a tier above. */
function serverTiers() {
  return SERVER_TIERS.flatMap((tier, index) =>
    tier.map((folder) => {
      const notBelow = SERVER_TIERS.slice(0, index + 1)
        .flat()
        .filter((other) => other !== folder);
      return {
        name: `server-layer-${folder}`,
        comment: `server/src/${folder} may import only the folders below it in docs/architecture.md`,
        severity: 'error',
        from: { path: `^packages/server/src/${folder}/`, pathNot: '\\.test\\.ts$' },
        to: { path: `^packages/server/src/(${notBelow.join('|')})/` },
      };
    }),
  );
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle: split the shared part into a module both can import.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('protocol', []),
    layer('schema', ['protocol']),
    layer('policy', ['protocol', 'schema']),
    layer('functions', ['protocol', 'schema']),
    layer('server', ['protocol', 'schema', 'policy', 'functions']),
    layer('cli', ['protocol', 'schema', 'policy', 'functions', 'server']),
    layer('client', ['protocol', 'schema', 'functions']),
    layer('react', ['protocol', 'schema', 'functions', 'client']),
    ...serverTiers(),
    {
      name: 'package-entry-only',
      comment: "Another package is entered through its index (or a declared subpath), not by a relative path into its files.",
      severity: 'error',
      from: { path: '^packages/([^/]+)/' },
      to: { path: '^packages/([^/]+)/', pathNot: ['^packages/$1/', '^packages/[^/]+/(src/(index|testing|node|memory|config/index)|test/(testing|harness))\\.ts$'], dependencyTypesNot: ['aliased-subpath-import', 'npm'] },
    },
    {
      name: 'no-test-code-in-packages',
      comment: 'Shipped code never imports the root test/ or bench/ folders.',
      severity: 'error',
      from: { path: '^packages/[^/]+/src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['source', 'import', 'types', 'default'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.d.ts'],
    },
  },
};
