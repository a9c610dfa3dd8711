import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isTypeScriptFile, registerTypeScript } from '@mast/server';

/** Whether an app folder holds TypeScript that Mast imports: `schema.ts` or a `functions/*.ts`. */
export function appUsesTypeScript(appDir: string): boolean {
  if (existsSync(join(appDir, 'schema.ts'))) return true;
  try {
    return readdirSync(join(appDir, 'functions')).some((file) => isTypeScriptFile(file) && !file.endsWith('.d.ts'));
  } catch {
    return false;
  }
}

/** Registers tsx in this process when the app in `appDir` is written in TypeScript. */
export async function prepareApp(appDir: string): Promise<void> {
  if (appUsesTypeScript(appDir)) await registerTypeScript();
}
