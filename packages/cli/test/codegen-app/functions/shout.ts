import { action, v } from '@mast/functions';

export default action({
  args: { text: v.string(), times: v.optional(v.number()) },
  returns: v.string(),
  handler: async (_ctx, a) => a.text.toUpperCase().repeat(a.times ?? 1),
});
