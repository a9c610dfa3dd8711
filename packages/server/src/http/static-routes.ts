import { createReadStream, realpathSync, statSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpErrors } from '../errors/index.js';

/** What the static route group needs. */
export interface StaticRouteDeps {
  /** The folder served at `/` (an app's built web assets). */
  readonly root: string;
}

/** Path prefixes that stay the server's own: never a file, never the SPA fallback. */
const RESERVED = ['/api/', '/ws', '/events', '/health', '/metrics'];

/** Content types of the files a built web app holds; anything else is sent as bytes. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Files whose names carry a content hash (a bundler's `assets/` folder) never change. */
const IMMUTABLE_PREFIX = '/assets/';

/**
 * Resolves a request path to a file under `root`, or null when it names none. Refuses what
 * could leave the folder: `..` and `.` segments, backslashes, NUL bytes, dotfiles, and a
 * symbolic link whose target lies outside `root`.
 */
async function resolveFile(root: string, path: string): Promise<{ file: string; size: number; mtime: Date } | null> {
  if (path.includes('\0') || path.includes('\\')) return null;
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return null;
  const candidate = join(root, ...segments);
  try {
    const real = await realpath(candidate);
    if (real !== root && !real.startsWith(root + sep)) return null;
    const info = await stat(real);
    if (!info.isFile()) return null;
    return { file: real, size: info.size, mtime: info.mtime };
  } catch {
    return null;
  }
}

/** Whether a request is a page navigation (wants HTML), which the SPA fallback answers. */
function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html');
}

function send(reply: FastifyReply, request: FastifyRequest, found: { file: string; size: number; mtime: Date }, path: string): FastifyReply {
  const type = CONTENT_TYPES[extname(found.file).toLowerCase()] ?? 'application/octet-stream';
  const etag = `W/"${found.size.toString(16)}-${Math.floor(found.mtime.getTime()).toString(16)}"`;
  reply.header('content-type', type);
  reply.header('etag', etag);
  reply.header('last-modified', found.mtime.toUTCString());
  // Hashed assets are cached for good; everything else (index.html, the service worker) is
  // revalidated on every use so a new build is picked up at once.
  reply.header('cache-control', path.startsWith(IMMUTABLE_PREFIX) ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  reply.header('content-length', String(found.size));
  return reply.send(createReadStream(found.file));
}

/**
 * Serves a folder of built web assets at `/`: files by path with their content types, hashed
 * `assets/` cached as immutable, and `index.html` for any other page path (a single-page app's
 * client-side routes). API routes, `/ws`, `/events`, `/health` and `/metrics` keep priority:
 * an unknown path under them is the API's 404, never the page. False when `root` is no folder
 * (nothing is served at `/` then).
 */
export function registerStaticRoutes(app: FastifyInstance, deps: StaticRouteDeps): boolean {
  let root: string;
  try {
    root = realpathSync(deps.root);
    if (!statSync(root).isDirectory()) return false;
  } catch {
    return false; // no built assets: nothing is served at /
  }
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const path = request.url.split('?')[0] ?? '/';
    if (RESERVED.some((prefix) => path === prefix.replace(/\/$/, '') || path.startsWith(prefix))) throw httpErrors.noRoute(request.method, path);
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch (err) {
      throw httpErrors.malformedUrl(err);
    }
    const found = await resolveFile(root, decoded.endsWith('/') ? `${decoded}index.html` : decoded);
    if (found) return send(reply, request, found, decoded);
    // A page path (no file extension, asked for as HTML) is the app's own route: its index.html.
    if (extname(decoded) === '' && wantsHtml(request)) {
      const index = await resolveFile(root, '/index.html');
      if (index) return send(reply, request, index, '/index.html');
    }
    throw httpErrors.noFileOrRoute(request.method, path);
  };
  app.get('/', handler);
  app.get('/*', handler);
  return true;
}
