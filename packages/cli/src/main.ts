// Entry of the `mast` command. `mast start` forks its server at once, before loading anything
// but the supervisor, so supervision adds one Node.js start-up, not a second load of Mast.
import { fileURLToPath } from 'node:url';
import { supervise, supervisedStart } from './supervisor.js';

const argv = process.argv.slice(2);
if (supervisedStart(argv, process.env)) {
  const settings = import('./commands.js').then((commands) => commands.supervisorSettings(argv));
  process.exitCode = await supervise({ entry: fileURLToPath(import.meta.url), args: argv, settings });
} else {
  await (await import('./commands.js')).runCommand(argv);
}
