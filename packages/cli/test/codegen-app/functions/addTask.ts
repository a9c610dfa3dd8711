import { mutation, v } from '@mast/functions';

export default mutation({
  args: {
    title: v.string(),
    projectId: v.id('Project'),
    estimate: v.optional(v.int()),
    tags: v.array(v.string()),
    priority: v.union(v.literal('low'), v.literal('high')),
    extra: v.optional(v.object({ note: v.string(), pinned: v.boolean() })),
  },
  returns: v.object({ id: v.string() }),
  handler: async (ctx, a) => ({ id: await ctx.db.insert('Task', { title: a.title, done: false, projectId: a.projectId }) }),
});
