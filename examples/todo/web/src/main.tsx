import { createClient, indexedDbStorage } from '@mast/client';
import { MastProvider } from '@mast/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { failures } from './failures.js';
import { loadIdentity } from './identity.js';

// The page's files come from a service worker after the first visit, so a reload works offline.
if ('serviceWorker' in navigator) {
  void navigator.serviceWorker.register('/sw.js').catch((err: unknown) => console.warn('service worker not registered', err));
}

const identity = loadIdentity();
const client = createClient({
  url: location.origin,
  auth: identity?.token ?? null,
  // Pending writes and the last rows survive a reload (offline too) in IndexedDB.
  storage: indexedDbStorage('todo'),
  onError: (error, write) => failures.report(error, write),
});

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <MastProvider client={client}>
        <App />
      </MastProvider>
    </StrictMode>,
  );
}
