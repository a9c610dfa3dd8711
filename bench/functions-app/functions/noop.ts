// POST /api/fn/noop {} → null: a mutation that does nothing, so its cost is the call itself
// (routing, argument validation, the transaction it opens and commits).
import { mutation } from '@mast/functions';

export default mutation({
  args: {},
  async handler() {
    return null;
  },
});
