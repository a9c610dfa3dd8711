/**
 * Lets this process (or worker thread) import an app's own TypeScript: `schema.ts` and
 * `functions/*.ts`. Mast itself runs as built JavaScript; tsx is loaded only
 * when an app file needs it, so an app written in JavaScript (or a manifest only) never pays
 * for it.
 */

let registered: Promise<void> | undefined;

/** Whether a file (path or URL) is TypeScript that Node cannot import by itself. */
export function isTypeScriptFile(file: string): boolean {
  return /\.[mc]?tsx?(?:\?.*)?$/.test(file);
}

/**
 * Registers tsx's ESM and CommonJS loaders once (CommonJS too, so an app folder without
 * `"type": "module"` still loads). A no-op when this module itself runs as TypeScript: then a
 * loader is already in place (tsx, vitest).
 */
export function registerTypeScript(): Promise<void> {
  if (import.meta.url.endsWith('.ts')) return Promise.resolve();
  registered ??= (async () => {
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    cjs.register();
    esm.register();
  })();
  return registered;
}
