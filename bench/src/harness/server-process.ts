/**
 * Child process: the Mast server under test, alone in its process, on 127.0.0.1 and a free port,
 * with logging off. Run it with `--cpu-prof` to see where its time goes.
 */
import { compileManifest } from '@mast/schema';
import { MastServer, loadConfig, type MastConfig } from '@mast/server';
import { serveRunner } from './child-rpc.js';

/** What `start` needs: the app folder, its manifest and config overrides (database path etc.). */
export interface ServerParams {
  readonly appDir: string;
  readonly manifest: unknown;
  readonly config: Partial<MastConfig>;
}

let server: MastServer | null = null;

async function start(raw: unknown): Promise<{ port: number }> {
  const params = raw as ServerParams;
  // The environment is ignored on purpose: a stray MAST_* variable must not change the numbers.
  const config = loadConfig({}, { ...params.config, port: 0, host: '127.0.0.1', logLevel: 'silent' });
  server = await MastServer.create({ appDir: params.appDir, schema: compileManifest(params.manifest), config });
  return { port: await server.listen() };
}

serveRunner({ start }, async () => {
  await server?.close();
});
