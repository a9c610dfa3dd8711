import { describe, expect, it } from 'vitest';
// The seeded PRNG (mulberry32) the policy fuzzer uses, so a failing seed replays exactly.
import { prng } from '@mast/policy/testing';
import { applyResultDiff, resultDiff, type ResultDiff } from '@mast/protocol';
import { diffResult } from './result-diff.js';

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

/** Ids drawn from a small pool, strings and numbers alike (`1` and `"1"` are different ids). */
const IDS: ReadonlyArray<string | number> = [1, 2, 3, '1', '2', 'a', 'b', 'c', 'd', 'e', 0, 10, 'x1', 'x2', 'x3', 'x4', 'x5', 'x6'];

function fields(rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = ['title', 'done', 'n', 'tags', 'meta'];
  for (let i = int(rng, 4); i > 0; i--) {
    const key = pick(rng, keys);
    out[key] = pick(rng, [() => 'a', () => 'b', () => true, () => false, () => int(rng, 3), () => null, () => [int(rng, 2)], () => ({ k: int(rng, 2) })])();
  }
  return out;
}

/**
 * A row with `id`; sometimes `id` is not the first key, so key order matters to the text. Most
 * rows carry a long field, as real rows do, so that the rows form is usually the shorter one.
 */
function row(rng: Rng, id: string | number): Record<string, unknown> {
  const body = rng() < 0.8 ? { body: 'lorem ipsum '.repeat(3 + int(rng, 3)) } : {};
  return rng() < 0.2 ? { ...fields(rng), ...body, id } : { id, ...body, ...fields(rng) };
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = int(rng, i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function rows(rng: Rng): Array<Record<string, unknown>> {
  return shuffle(rng, [...IDS])
    .slice(0, int(rng, 10))
    .map((id) => row(rng, id));
}

/** The next result of a query whose previous result was `previous`: some rows go, change, come or move. */
function evolve(rng: Rng, previous: Array<Record<string, unknown>>): unknown {
  const roll = rng();
  if (roll < 0.05) return null;
  if (roll < 0.1) return rows(rng).map((r) => ({ ...r, id: rng() < 0.5 ? [r.id] : r.id }));
  if (roll < 0.15) return rows(rng);
  let next = previous.filter(() => rng() > 0.25).map((r) => (rng() < 0.3 ? row(rng, r.id as string | number) : r));
  const held = new Set(next.map((r) => r.id));
  for (const id of IDS) {
    if (held.has(id) || rng() > 0.15) continue;
    next.splice(int(rng, next.length + 1), 0, row(rng, id));
  }
  const moves = rng();
  if (moves < 0.15) next = shuffle(rng, next);
  else if (moves < 0.35 && next.length > 1) {
    const [moved] = next.splice(int(rng, next.length), 1);
    next.splice(int(rng, next.length + 1), 0, moved!);
  }
  if (rng() < 0.05 && next.length > 0) next.push({ ...next[0]! });
  return next;
}

/**
 * Applies a diff as a client reads it off the wire: a JSON round trip, valid by the wire
 * schema. (The schema's parse output puts `id` first in each row, so the raw JSON is applied:
 * key order within a row carries no meaning, but the test holds the text to it anyway.)
 */
function applyFromWire(previous: unknown, diff: ResultDiff): unknown {
  const wire = JSON.parse(JSON.stringify(diff)) as ResultDiff;
  const checked = resultDiff.safeParse(wire);
  if (!checked.success) throw new Error(`not a valid diff: ${checked.error.message}`);
  return applyResultDiff(previous, wire);
}

describe('diffResult and applyResultDiff', () => {
  it('rebuild exactly the next result, for many random pairs', () => {
    let rowDiffs = 0;
    let ordered = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const rng = prng(seed);
      const previous = rows(rng);
      const next = evolve(rng, previous);
      const frozen = JSON.stringify(previous);
      const diff = diffResult(previous, next);
      const rebuilt = applyFromWire(previous, diff);
      // Deep equal, same order, and the same text (each row's key order too).
      expect(rebuilt, `seed ${seed}`).toEqual(next);
      expect(JSON.stringify(rebuilt), `seed ${seed}`).toBe(JSON.stringify(next));
      expect(JSON.stringify(previous), `seed ${seed}: previous untouched`).toBe(frozen);
      if (!('value' in diff)) {
        rowDiffs++;
        if (diff.order) ordered++;
        // Minimal: exactly the ids that left, came, or changed text.
        const nextRows = next as Array<Record<string, unknown>>;
        const before = new Map(previous.map((r) => [r.id, JSON.stringify(r)]));
        const after = new Set(nextRows.map((r) => r.id));
        expect(diff.removed).toEqual(previous.filter((r) => !after.has(r.id as string)).map((r) => r.id));
        expect(diff.added.map((a) => a.row)).toEqual(nextRows.filter((r) => !before.has(r.id)));
        expect(diff.changed).toEqual(nextRows.filter((r) => before.has(r.id) && before.get(r.id) !== JSON.stringify(r)));
        // `order` is sent exactly when the kept rows' relative order changed.
        const keptBefore = previous.filter((r) => after.has(r.id as string)).map((r) => r.id);
        const keptAfter = nextRows.filter((r) => before.has(r.id)).map((r) => r.id);
        expect(diff.order !== undefined, `seed ${seed}: order`).toBe(JSON.stringify(keptBefore) !== JSON.stringify(keptAfter));
      }
    }
    // The generator reaches both forms and both orderings.
    expect(rowDiffs).toBeGreaterThan(1500);
    expect(ordered).toBeGreaterThan(100);
  });

  it('chains: applying each diff of a sequence of results to the last rebuilt one', () => {
    const rng = prng(42);
    let server: unknown = rows(rng);
    let client: unknown = server;
    for (let step = 0; step < 2000; step++) {
      const next =
        Array.isArray(server) && server.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r)) ? evolve(rng, server as Array<Record<string, unknown>>) : rows(rng);
      client = applyFromWire(client, diffResult(server, next));
      server = next;
      expect(JSON.stringify(client), `step ${step}`).toBe(JSON.stringify(server));
    }
  });

  const a = { id: 'a', title: 'A' };
  const b = { id: 'b', title: 'B' };
  const c = { id: 'c', title: 'C' };
  const d = { id: 'd', title: 'D' };
  const big = (id: string) => ({ id, title: id.repeat(40) });

  it('a row inserted in the middle is placed by its index, without an order', () => {
    const previous = [big('a'), big('b'), big('c')];
    expect(diffResult(previous, [big('a'), big('x'), big('b'), big('c')])).toEqual({ added: [{ index: 1, row: big('x') }], changed: [], removed: [] });
  });

  it('a removal and an addition keep the survivors in order without an order', () => {
    const previous = [big('a'), big('b'), big('c'), big('d')];
    expect(diffResult(previous, [big('x'), big('a'), big('c'), big('d')])).toEqual({ added: [{ index: 0, row: big('x') }], changed: [], removed: ['b'] });
  });

  it('a changed row is sent whole', () => {
    const previous = [big('a'), big('b'), big('c')];
    const b2 = { ...big('b'), title: 'new' };
    expect(diffResult(previous, [big('a'), b2, big('c')])).toEqual({ added: [], changed: [b2], removed: [] });
  });

  it('rows that swapped places are sent as the kept ids in their new order', () => {
    const previous = [big('a'), big('b'), big('c'), big('d')];
    expect(diffResult(previous, [big('a'), big('c'), big('b'), big('d')])).toEqual({ added: [], changed: [], removed: [], order: ['a', 'c', 'b', 'd'] });
  });

  it('the same id as a string and as a number are two rows', () => {
    const previous = [big('a'), { id: 1, title: 'one' }, big('b')];
    expect(diffResult(previous, [big('a'), { id: 1, title: 'one' }, { id: '1', title: 'one' }, big('b')])).toEqual({
      added: [{ index: 2, row: { id: '1', title: 'one' } }],
      changed: [],
      removed: [],
    });
  });

  const replaced: Array<[string, unknown, unknown]> = [
    ['not arrays', { n: 1 }, { n: 2 }],
    ['null after rows', [a], null],
    ['rows after a number', 3, [a]],
    ['an element that is not an object', [a, b, c], [a, b, 'c']],
    ['an element that is an array', [a, b, c], [a, b, [c]]],
    ['a row without id', [a, b], [a, { title: 'B' }]],
    ['an id that is not a string or number', [a, b], [a, { id: true }]],
    ['duplicate ids in the new result', [a, b], [a, b, { ...b }]],
    ['duplicate ids in the previous result', [a, a], [a]],
    [
      'a diff no shorter than the value (every row changed)',
      [a, b],
      [
        { ...a, title: 'x' },
        { ...b, title: 'y' },
      ],
    ],
    ['a diff no shorter than the value (all replaced)', [a, b], [c, d]],
  ];
  for (const [what, previous, next] of replaced) {
    it(`sends the whole value for ${what}`, () => {
      expect(diffResult(previous, next)).toEqual({ value: next });
      expect(applyResultDiff(previous, diffResult(previous, next))).toEqual(next);
    });
  }
});
