import { AppError } from './app-error.js';

/** The errors of sync pull and push. Each message is written here once. */
export const syncErrors = {
  cursorAhead: (since: number, oldestSeq: number, headSeq: number): AppError =>
    new AppError('RESYNC_REQUIRED', `cursor ${since} is ahead of this server's change log (head ${headSeq}); client must re-sync`, {
      extra: { oldest_seq: oldestSeq, head_seq: headSeq },
    }),
  cursorPruned: (since: number, oldestSeq: number, headSeq: number): AppError =>
    new AppError('RESYNC_REQUIRED', `cursor ${since} is older than the oldest retained change ${oldestSeq}; client must re-sync`, {
      extra: { oldest_seq: oldestSeq, head_seq: headSeq },
    }),
  viewChanged: (since: number, oldestSeq: number, headSeq: number): AppError =>
    new AppError('RESYNC_REQUIRED', `what you may read changed after seq ${since} (a row your read rules look at changed); pull again from 0`, {
      extra: { oldest_seq: oldestSeq, head_seq: headSeq },
    }),
  invalidPushBody: (): AppError => new AppError('INVALID_DATA', 'The body must look like {"changes":[{"entity","row_id","kind","data"?,"op_id"?}]}'),
  tooManyChanges: (max: number, got: number): AppError => new AppError('LIMIT_TOO_LARGE', `A push carries at most ${max} changes, got ${got}`),
  invalidChange: (index: number, what: string): AppError => new AppError('INVALID_OPERATION', `changes[${index}]: ${what}`, { extra: { index } }),
} as const;
