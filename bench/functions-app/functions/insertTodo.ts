// POST /api/fn/insertTodo {"title", "done", "priority"} → {"id"}: the same row the REST insert
// of the functions benchmark writes, in one transaction, under Todo's policies.
import { mutation, v } from '@mast/functions';

export default mutation({
  args: { title: v.string(), done: v.boolean(), priority: v.int() },
  async handler(ctx, args) {
    const id = await ctx.db.insert('Todo', { title: args.title, done: args.done, priority: args.priority });
    return { id };
  },
});
