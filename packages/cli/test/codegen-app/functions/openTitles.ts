import { query, v } from '@mast/functions';

export default query({
  returns: v.array(v.string()),
  handler: async (ctx) => (await ctx.db.query('Task', { done: false })).map((r) => String(r.title)),
});
