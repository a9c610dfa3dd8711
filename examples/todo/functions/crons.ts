// The app's cron schedules (UTC): completed todos are cleared every night at 03:00.
import { crons } from '@mast/functions';

export default crons({
  clearCompleted: { schedule: '0 3 * * *', function: 'clearCompleted' },
});
