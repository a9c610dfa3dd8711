import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compileManifest } from './compile-manifest.js';
import { loadManifestFile } from './load-app-schema.js';
import { ManifestError } from './manifest-error.js';

// A fixed seed in `npm test`; MAST_FUZZ_RUNS=100000 (and MAST_FUZZ_SEED) for a longer run.
const runs = Number(process.env.MAST_FUZZ_RUNS ?? 300);
const seed = Number(process.env.MAST_FUZZ_SEED ?? 12);
/** A longer run takes longer: about 10 ms a run is allowed, at least vitest's default. */
const timeout = Math.max(20_000, runs * 10);

const TYPES = ['string', 'int', 'float', 'bool', 'datetime', 'richtext', 'json', 'id(User)', 'id(Nope)', 'id(', 'text', '', 'String'];
const NAMES = ['User', 'Todo', 'id', 'email', 'title', '', '1x', 'select', 'a b', '_mast', 'x'.repeat(70), 'ünï'];

/** Manifests near the valid shape: right keys, values drawn from valid and invalid pools. */
const field = fc.record(
  { name: fc.constantFrom(...NAMES), type: fc.constantFrom(...TYPES), optional: fc.oneof(fc.boolean(), fc.constant('yes')), unique: fc.boolean() },
  { requiredKeys: ['name', 'type'] },
);
const entity = fc.record(
  {
    name: fc.constantFrom(...NAMES),
    fields: fc.array(field, { maxLength: 5 }),
    indexes: fc.array(fc.record({ name: fc.constantFrom(...NAMES), fields: fc.array(fc.constantFrom(...NAMES), { maxLength: 3 }), unique: fc.boolean() }), { maxLength: 2 }),
    crdt: fc.boolean(),
  },
  { requiredKeys: ['name', 'fields'] },
);
const policy = fc.record(
  {
    name: fc.constantFrom(...NAMES),
    entity: fc.constantFrom(...NAMES),
    allow: fc.constantFrom('true', 'auth.userId == data.id', '(((', 'data.nope == 1'),
    allowRead: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: ['name'] },
);
const nearManifest = fc.record(
  {
    manifest_version: fc.oneof(fc.constant(1), fc.integer(), fc.string()),
    name: fc.constantFrom('app', '', 'x'),
    version: fc.constantFrom('1.0.0', ''),
    entities: fc.oneof(fc.array(entity, { maxLength: 4 }), fc.constant(null), fc.jsonValue({ maxDepth: 3 })),
    routes: fc.oneof(fc.constant([]), fc.jsonValue({ maxDepth: 3 })),
    policies: fc.array(policy, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

/** Compiles `raw`, or refuses it with a ManifestError that lists what is wrong. */
function answered(raw: unknown): void {
  try {
    compileManifest(raw);
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    expect(error.diagnostics.length).toBeGreaterThan(0);
  }
}

describe('manifest loader (fuzzed)', { timeout }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mast-manifest-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers any JSON value with a schema or a ManifestError', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), answered), { numRuns: runs, seed });
  });

  it('answers manifests near the valid shape with a schema or a ManifestError', () => {
    fc.assert(fc.property(nearManifest, answered), { numRuns: runs * 3, seed });
  });

  it('answers any file text (read from a real file) with a schema or a ManifestError', async () => {
    const path = join(dir, 'pylon.manifest.json');
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      nearManifest.map((m) => JSON.stringify(m)),
    );
    await fc.assert(
      fc.asyncProperty(text, async (content) => {
        writeFileSync(path, content);
        try {
          await loadManifestFile(path);
        } catch (error) {
          if (!(error instanceof ManifestError)) throw error;
        }
      }),
      // Through a real file: capped, the in-memory properties above carry the long runs.
      { numRuns: Math.min(1_000, Math.max(30, runs / 3)), seed },
    );
  });

  it('refuses a manifest nested to any depth without overflowing', () => {
    // Each takes up to 0.1 s (the validator walks the nesting), so the runs are capped.
    const deep = fc
      .record({ depth: fc.integer({ min: 1, max: 100_000 }), open: fc.constantFrom('[', '{"a":') })
      .map(({ depth, open }) => `{"entities":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}`);
    fc.assert(
      fc.property(deep, (text) => answered(JSON.parse(text))),
      { numRuns: Math.min(100, Math.max(20, runs / 10)), seed },
    );
  });
});
