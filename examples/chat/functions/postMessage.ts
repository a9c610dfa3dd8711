// POST /api/fn/postMessage {"channelId", "text"} → {"id"}: posts as the caller. Message's insert
// rule decides: only a member of the channel may post, and only as themselves.
import { mutation, v } from '@mast/functions';

export default mutation({
  args: { channelId: v.string(), text: v.string() },
  async handler(ctx, args) {
    const text = args.text.trim();
    if (text === '') throw new Error('A message needs some text');
    const id = await ctx.db.insert('Message', { channelId: args.channelId, authorId: ctx.auth.userId, text, sentAt: new Date().toISOString() });
    return { id };
  },
});
