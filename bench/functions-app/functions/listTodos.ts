// POST /api/fn/listTodos {} → the first 100 Todo rows, as GET /api/entities/Todo?limit=100 reads them.
import { query } from '@mast/functions';

export default query({
  args: {},
  async handler(ctx) {
    return ctx.db.query('Todo', { $limit: 100 });
  },
});
