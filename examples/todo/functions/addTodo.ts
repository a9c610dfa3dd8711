// POST /api/fn/addTodo {"title": "..."} → {"id": "..."}: one transaction, under Todo's policies.
import { mutation, v } from '@mast/functions';

export default mutation({
  args: { title: v.string() },
  async handler(ctx, args) {
    const id = await ctx.db.insert('Todo', { title: args.title, done: false });
    return { id };
  },
});
