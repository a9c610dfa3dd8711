// POST /api/fn/channelMessages {"channelId"} → the channel's last 50 messages, oldest first, as
// the caller may read them (none for a non-member). Watch it live with fn-watch.
import { query, v } from '@mast/functions';

export default query({
  args: { channelId: v.string() },
  async handler(ctx, args) {
    const rows = await ctx.db.query('Message', { channelId: args.channelId, $order: { sentAt: 'desc' }, $limit: 50 });
    return rows.reverse();
  },
});
