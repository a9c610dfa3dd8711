// The page's service worker: the built files are cached when it installs, and a page load is
// answered from that cache, so the app opens (and reloads) offline. API calls, the socket and
// anything not in the build go to the network untouched. The build fills in BUILD and FILES.
const BUILD = '__BUILD__';
const FILES = ['__FILES__'];
const CACHE = `mast-todo-${BUILD}`;
const SERVER_PATHS = ['/api/', '/ws', '/events', '/health', '/metrics'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith('mast-todo-') && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || SERVER_PATHS.some((p) => url.pathname.startsWith(p))) return;
  // A page load is the app's index.html (a new build brings a new worker, which caches the new one).
  const key = request.mode === 'navigate' ? '/index.html' : url.pathname;
  if (request.mode !== 'navigate' && !FILES.includes(key)) return;
  event.respondWith(
    caches
      .open(CACHE)
      .then((cache) => cache.match(key))
      .then((hit) => hit ?? fetch(request)),
  );
});
