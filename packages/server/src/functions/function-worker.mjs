// Entry of a function worker thread. A worker does not inherit the main thread's TypeScript
// loader, so it registers tsx's (CommonJS and ESM, as bin/mast.js does) before it imports its
// own code and the app's function files.
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCjs();
register();
await import('./function-worker.ts');
