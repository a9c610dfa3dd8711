// Entry of a function worker thread when the server runs from its TypeScript source (the
// monorepo's tests): a worker does not inherit the main thread's loaders, so it registers tsx's
// (CommonJS and ESM) and resolves Mast's own packages by their `source` export condition, as
// the tests do, before it imports `function-worker.ts`. Built servers start `function-worker.js`.
import { register as registerHooks } from 'node:module';
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCjs();
register();
const addSource = `export function resolve(specifier, context, next) {
  if (!specifier.startsWith('@mast/')) return next(specifier, context);
  return next(specifier, { ...context, conditions: [...context.conditions, 'source'] });
}`;
registerHooks(`data:text/javascript,${encodeURIComponent(addSource)}`);
await import('./function-worker.ts');
