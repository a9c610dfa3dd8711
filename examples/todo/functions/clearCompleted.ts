// Deletes completed todos; the `clearCompleted` cron (crons.ts) runs it every night.
import { mutation } from '@mast/functions';

export default mutation({
  async handler(ctx) {
    const done = await ctx.db.query('Todo', { done: true, $limit: 500 });
    for (const todo of done) await ctx.db.delete('Todo', todo.id);
    return { deleted: done.length };
  },
});
