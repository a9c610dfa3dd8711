// POST /api/fn/remindMe {"title": "...", "inMinutes": 30} → {"jobId": "..."}: a durable job adds
// the todo later (addTodo, as the same caller); it survives a restart and can be cancelled.
import { mutation, v } from '@mast/functions';

export default mutation({
  args: { title: v.string(), inMinutes: v.number() },
  async handler(ctx, args) {
    if (args.inMinutes <= 0 || args.inMinutes > 60 * 24 * 365) throw ctx.error('INVALID_DELAY', 'inMinutes must be between 0 and one year');
    const jobId = await ctx.scheduler.runAfter(args.inMinutes * 60_000, 'addTodo', { title: `Reminder: ${args.title}` });
    return { jobId };
  },
});
