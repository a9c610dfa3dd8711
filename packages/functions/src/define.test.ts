import { describe, expect, expectTypeOf, it } from 'vitest';
import { action, FunctionError, isFunctionDefinition, isFunctionError, mutation, query, v, type ActionCtx, type MutationCtx, type QueryCtx } from './index.js';

describe('definitions', () => {
  it('infer argument types from the validators and hand each kind its own ctx', () => {
    const add = mutation({
      args: { title: v.string(), tags: v.optional(v.array(v.string())), at: v.object({ x: v.int() }) },
      handler: async (ctx, args) => {
        expectTypeOf(ctx).toEqualTypeOf<MutationCtx>();
        expectTypeOf(args).toEqualTypeOf<{ title: string; tags?: string[] | undefined; at: { x: number } }>();
        return ctx.db.insert('Todo', { title: args.title });
      },
    });
    query({ handler: (ctx) => expectTypeOf(ctx).toEqualTypeOf<QueryCtx>() });
    action({ handler: (ctx) => expectTypeOf(ctx).toEqualTypeOf<ActionCtx>() });
    expect(add.kind).toBe('mutation');
    expect(add.unsafeBypassPolicies).toBe(false);
    expect(isFunctionDefinition(add)).toBe(true);
    expect(isFunctionDefinition({ kind: 'query', handler: () => 1, args: v.object({}) })).toBe(false);
  });

  it('opt out of policies only when asked', () => {
    expect(mutation({ unsafeBypassPolicies: true, handler: () => 1 }).unsafeBypassPolicies).toBe(true);
    expect(query({ handler: () => 1 }).unsafeBypassPolicies).toBe(false);
  });

  it('run isolated only when asked, and refuse an isolated option that is not a boolean', () => {
    expect(query({ handler: () => 1 }).isolated).toBe(false);
    expect(mutation({ isolated: true, handler: () => 1 }).isolated).toBe(true);
    expect(action({ isolated: false, handler: () => 1 }).isolated).toBe(false);
    expect(() => action({ isolated: 'yes' as unknown as boolean, handler: () => 1 })).toThrow('isolated must be true or false');
    expect(() => query({ isolated: 1 as unknown as boolean, handler: () => 1 })).toThrow('isolated must be true or false');
  });

  it('validate arguments strictly', () => {
    const args = query({ args: { n: v.int(), id: v.id('Todo') }, handler: () => 1 }).args;
    expect(args.safeParse({ n: 1, id: 'a' }).success).toBe(true);
    expect(args.safeParse({ n: 1.5, id: 'a' }).success).toBe(false);
    expect(args.safeParse({ n: 1, id: '' }).success).toBe(false);
    expect(args.safeParse({ n: 1, id: 'a', extra: true }).success).toBe(false);
  });

  it('mark author errors, and only those', () => {
    expect(isFunctionError(new FunctionError('NOPE', 'no'))).toBe(true);
    expect(isFunctionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
  });
});
