// POST /api/fn/createChannel {"workspaceId", "title"} → {"id"}: a workspace admin opens a channel
// and becomes its first member, in one transaction (both inserts pass their entity's rules, or
// neither is written).
import { mutation, v } from '@mast/functions';

export default mutation({
  args: { workspaceId: v.string(), title: v.string() },
  async handler(ctx, args) {
    const id = await ctx.db.insert('Channel', { workspaceId: args.workspaceId, title: args.title });
    await ctx.db.insert('Membership', { channelId: id, workspaceId: args.workspaceId, userId: ctx.auth.userId });
    return { id };
  },
});
