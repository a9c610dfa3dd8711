import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * Emits `sw.js`, the service worker of `sw.js` in this folder with the build's file list and a
 * hash of it filled in: a new build is a new worker, which caches the new files.
 */
function serviceWorker(): Plugin {
  return {
    name: 'mast-todo-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = ['/index.html', ...Object.keys(bundle).map((name) => `/${name}`)].sort();
      const build = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16);
      const source = readFileSync(`${here}sw.js`, 'utf8').replace("'__BUILD__'", JSON.stringify(build)).replace("['__FILES__']", JSON.stringify(files));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

// Built into the app's `public/` folder, which the server serves at `/` (MAST_PUBLIC_DIR).
export default defineConfig({
  root: here,
  publicDir: false,
  logLevel: 'warn',
  plugins: [serviceWorker()],
  build: {
    outDir: '../public',
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
    // One bundle of React, CodeMirror and the client (about 670 kB, 200 kB gzipped) beside Loro's WASM.
    chunkSizeWarningLimit: 1024,
  },
});
