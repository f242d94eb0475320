// IndexedDB, the phone's only store: kv (token, device id, cursors), forms (definitions by
// [form_id, version]), drafts, outbox (finalised submissions), records (follow-up cases) and
// sent (the submissions the server has taken, kept to be sent again should it lose them: a
// database restored from a backup).
const STORES = {
  kv: undefined,
  forms: { keyPath: ['form_id', 'version'] },
  drafts: { keyPath: 'id' },
  outbox: { keyPath: 'id' },
  records: { keyPath: 'record_id' },
  sent: { keyPath: 'id' }, // from version 2
};
let opening;

// What is wrong with the store, for the app to tell the officer (app.js): 'full' (the phone
// has no room left: a write failed with QuotaExceededError; gone at the next write that
// succeeds), 'closed' (a newer app upgraded the store from another tab: this one must reload),
// 'broken' (the browser would not open it: a private window, a damaged profile), or null.
export const trouble = { kind: null };
const watchers = new Set();
export const onTrouble = (fn) => watchers.add(fn);
function report(kind) {
  if (trouble.kind === kind) return;
  trouble.kind = kind;
  watchers.forEach((fn) => fn(kind));
}
export const isFull = (e) => e?.name === 'QuotaExceededError';
// An error of the store itself (not of the network or the server): what to tell is in `trouble`.
export const isStorageError = (e) => e instanceof DOMException && e.name !== 'AbortError';

function open() {
  opening ??= new Promise((resolve, reject) => {
    const r = indexedDB.open('coso', 2);
    r.onupgradeneeded = () => {
      for (const [name, opts] of Object.entries(STORES)) {
        if (!r.result.objectStoreNames.contains(name)) r.result.createObjectStore(name, opts);
      }
    };
    r.onsuccess = () => {
      r.result.onversionchange = () => {
        r.result.close();
        opening = undefined;
        report('closed');
      };
      resolve(r.result);
    };
    r.onerror = () => reject(r.error);
  }).catch((e) => {
    opening = undefined; // tried again at the next call: a failure may not last
    report(e?.name === 'VersionError' ? 'closed' : isFull(e) ? 'full' : 'broken');
    throw e;
  });
  return opening;
}

// Settles with the transaction: `value()` once it has committed, its error if it failed.
function settled(t, value) {
  return new Promise((resolve, reject) => {
    t.oncomplete = () => {
      if (t.mode === 'readwrite' && trouble.kind === 'full') report(null); // room again
      resolve(value());
    };
    t.onerror = t.onabort = () => {
      if (isFull(t.error)) report('full');
      reject(t.error);
    };
  });
}

// One transaction; resolves when it has committed. Writes ask for strict durability: an
// officer's saved submission must survive the phone dying a second later.
async function run(store, mode, op) {
  const db = await open();
  const t = db.transaction(store, mode, { durability: mode === 'readwrite' ? 'strict' : 'default' });
  const r = op(t.objectStore(store));
  return settled(t, () => r?.result);
}

export const get = (store, key) => run(store, 'readonly', (s) => s.get(key));
export const all = (store) => run(store, 'readonly', (s) => s.getAll());
export const put = (store, value, key) => run(store, 'readwrite', (s) => s.put(value, key));
export const del = (store, key) => run(store, 'readwrite', (s) => s.delete(key));
export const clear = (store) => run(store, 'readwrite', (s) => s.clear());
export const putMany = (store, values) =>
  run(store, 'readwrite', (s) => values.forEach((v) => s.put(v)));
export const delMany = (store, keys) =>
  run(store, 'readwrite', (s) => keys.forEach((k) => s.delete(k)));
export const count = (store) => run(store, 'readonly', (s) => s.count());

// Deletes the first `n` entries of `store` in key order (for ids made by uuid7(), the oldest).
export const delFirst = (store, n) =>
  run(store, 'readwrite', (s) => {
    if (n <= 0) return;
    const keys = s.getAllKeys(null, n);
    keys.onsuccess = () => keys.result.forEach((k) => s.delete(k));
  });

// One read-write transaction over several stores: `fn(store, out)` chains its requests and
// fills `out`, which resolves once everything has committed (or nothing has).
export async function tx(stores, fn) {
  const db = await open();
  const t = db.transaction(stores, 'readwrite', { durability: 'strict' });
  const out = {};
  fn((name) => t.objectStore(name), out);
  return settled(t, () => out);
}

export const kv = (key) => get('kv', key);
export const setKv = (key, value) => put('kv', value, key);

// The newest version of a form the phone holds.
export async function latestForm(formId) {
  const mine = (await all('forms')).filter((d) => d.form_id === formId);
  return mine.sort((a, b) => b.version - a.version)[0];
}

// The version of a form the server serves now (its last list of forms), else the newest the
// phone holds: after a restore the server may have fewer versions than the phone kept.
export async function servedForm(formId) {
  const f = ((await kv('manifest')) ?? []).find((x) => x.form_id === formId);
  return (f && (await get('forms', [f.form_id, f.version]))) ?? (await latestForm(formId));
}
