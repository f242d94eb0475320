// Service worker: the app opens with no network. The shell is served cache-first; the forms
// manifest network-first with the cached copy as fallback. Everything else (form versions,
// which the app keeps in IndexedDB and checks against the manifest's sha256; push, pull,
// /me) goes straight to the network.
// Change VERSION whenever a shell file changes, so phones install the new shell at once.
const VERSION = 'coso-shell-83';
const SHELL = [
  './', 'index.html', 'app.css', 'app.js', 'db.js', 'drafts.js', 'edit.js', 'i18n.js', 'render.js',
  'sync.js', 'uuid7.js', 'validate.js', 'manifest.webmanifest', 'icon-192.png',
];
const FORMS = 'coso-forms-2'; // -2: the versions that coso-forms kept, without `renames`, go

const cacheShell = () =>
  caches.open(VERSION).then((c) => c.addAll(SHELL.map((u) => new Request(u, { cache: 'reload' }))));

self.addEventListener('install', (e) => {
  e.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== VERSION && k !== FORMS).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

const scope = new URL(self.registration.scope);
const api = new URL('../api/v1/', scope).pathname;

async function cacheFirst(req, name) {
  const hit = await caches.match(req, { ignoreSearch: true, cacheName: name });
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok) (await caches.open(name)).put(req, res.clone());
  return res;
}

async function networkFirst(req) {
  try {
    const res = await fetch(req);
    if (res.status === 200) (await caches.open(FORMS)).put(req.url, res.clone());
    return res;
  } catch (err) {
    const hit = await caches.match(req.url, { cacheName: FORMS });
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== scope.origin) return;
  if (req.mode === 'navigate' && url.pathname.startsWith(scope.pathname)) {
    e.respondWith(caches.match('./', { cacheName: VERSION }).then((hit) => hit ?? fetch(req)));
    // A cache the browser (or the officer) cleared while the app stayed installed: the shell
    // is fetched again now, while there is network, or the next offline start would fail.
    e.waitUntil(caches.match('./', { cacheName: VERSION }).then((hit) => hit || cacheShell()).catch(() => {}));
  } else if (url.pathname.startsWith(scope.pathname)) {
    e.respondWith(cacheFirst(req, VERSION));
  } else if (url.pathname === `${api}forms`) {
    e.respondWith(networkFirst(req));
  }
});
