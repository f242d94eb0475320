// A draft's life: kept as the officer types (a synchronous crash buffer in localStorage on
// every keystroke, the IndexedDB draft after a pause), and saved to the outbox once. What each
// draft was saved as is remembered (kv `saved_drafts`), in the transaction that saves it, so a
// second tab on the same draft cannot send it again under the same id: its autosave and its
// Save carry on as an edit of what the first tab saved.
import * as db from './db.js';
import { INVISIBLE, blank, changes, stateAfter } from './edit.js';

const SAVED = 'saved_drafts'; // {draft id: {id, record_id, data, at}}
const KEEP = 200;
const BUF = 'coso.typing.';

const stale = (d, s) => s && d.after !== s.id;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
// A value as the form reads it when not keeping a draft (render.js w.get), on either side:
// texts trimmed, blank ones none, without invisible marks (a pattern field drops them). A
// draft keeps text as typed, the space typed last and a pasted number's marks too; `opened`
// has neither.
const plain = (v) => {
  if (typeof v === 'string') {
    const text = v.replace(INVISIBLE, '').trim();
    return text === '' ? undefined : text;
  }
  if (Array.isArray(v)) return v.map(plain);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]).filter(([, x]) => x !== undefined));
};

// The draft goes on as an update of `s`, what another tab saved it as. `opened`: the data
// this tab's form opened with; what the officer changed here since goes onto that save, and
// every other field takes the saved value (this tab's form still shows what it opened with,
// which sent as it is would undo the other tab's changes).
function onto(d, s, opened) {
  if (opened) {
    const data = { ...s.data };
    for (const k of new Set([...Object.keys(d.data ?? {}), ...Object.keys(opened)])) {
      if (same(plain(d.data?.[k]), plain(opened[k]))) continue;
      if (d.data?.[k] === undefined) delete data[k];
      else data[k] = d.data[k];
    }
    d.data = data;
  }
  Object.assign(d, { record_id: s.record_id, parents: [s.id], base: s.data, after: s.id, fresh: false });
  delete d.fixing;
  delete d.errors;
}

// --- the crash buffer: survives a reload at any moment, even one that cuts an autosave short

// Whose typing a buffer is: set anew when the phone is set up for an officer, or handed over
// to another. A buffer of another owner (a form of the previous officer, still open in a tab
// when the phone was handed over) is never made a draft again: it would be saved as the new
// officer's. A buffer an older app wrote has none: the current owner's.
const OWNER = 'coso.owner';
export function newOwner() {
  try {
    localStorage.setItem(OWNER, crypto.randomUUID());
  } catch {
    // no localStorage: no crash buffer either
  }
}
// Whose the owner mark is (user id, name, role, area), kept beside it: when the browser has
// cleared the app's store but not localStorage, the same officer set up again keeps the
// typing the crash buffers hold (made drafts again); another officer starts a new owner.
const OWNER_USER = 'coso.owner.user';
const userKey = (me) => JSON.stringify([me.user_id, me.name, me.role, me.area]);
export function ownedBy(me) {
  try {
    return !!localStorage.getItem(OWNER) && localStorage.getItem(OWNER_USER) === userKey(me);
  } catch {
    return false;
  }
}
export function markOwner(me) {
  try {
    localStorage.setItem(OWNER_USER, userKey(me));
  } catch {
    // no localStorage: no crash buffer either
  }
}
// Whether this browser had the app set up (its marks outlive a store the browser cleared).
export function wasSetUp() {
  try {
    return !!localStorage.getItem(OWNER_USER);
  } catch {
    return false;
  }
}

// (a phone an older app set up has none yet: it gets one)
export function owner() {
  try {
    return localStorage.getItem(OWNER) ?? (newOwner(), localStorage.getItem(OWNER));
  } catch {
    return null;
  }
}

// With what the draft is besides its data, so that it can be made again if it goes meanwhile,
// and the data this tab's form opened with (see onto). `by`: the owner when the form opened.
export function buffer(d, data, opened, by = owner()) {
  try {
    localStorage.setItem(BUF + d.id, JSON.stringify({ data, at: Date.now(), draft: { ...d, data: undefined }, opened, by }));
  } catch {
    // storage full: the IndexedDB draft still follows a moment later
  }
}

// The buffer of draft `id`, unless it is another owner's (then it goes).
export function buffered(id) {
  try {
    const typed = JSON.parse(localStorage.getItem(BUF + id) ?? 'null');
    if (typed?.by && typed.by !== owner()) {
      unbuffer(id);
      return null;
    }
    return typed;
  } catch {
    return null;
  }
}

export const unbuffer = (id) => localStorage.removeItem(BUF + id);

// Buffers of drafts not in `ids`.
export const orphans = (ids) =>
  Object.keys(localStorage).filter((k) => k.startsWith(BUF)).map((k) => k.slice(BUF.length)).filter((id) => !ids.includes(id));

export function unbufferAll() {
  for (const k of Object.keys(localStorage)) if (k.startsWith(BUF)) localStorage.removeItem(k);
}

// --- IndexedDB

// Thrown by keep and submit when the phone was handed over to another officer since the
// form was opened, in another tab: the form is the previous officer's, whose drafts went with
// the handover; nothing of it is kept, nor sent as the new officer's. The same officer set up
// again with a new token, or a new account (sync.sameUser), is no handover: the form goes on
// (found by a probe: told apart by token, the officer's own typing was thrown away).
export class HandedOver extends Error {}

// Who the phone is for: `owner` in kv, made anew when it is set up for another officer
// (sync.handOver); 'none' on a phone an older app set up.
export const phoneOwner = async () => (await db.kv('owner')) ?? 'none';

// `fn(st, out)` in a transaction over `stores` (kv among them), unless the phone's owner is
// no longer `owner` (null: not checked).
async function asOwner(stores, owner, fn) {
  const out = await db.tx(stores, (st, out) => {
    const r = st('kv').get('owner');
    r.onsuccess = () => {
      if (owner && (r.result ?? 'none') !== owner) out.handedOver = true;
      else fn(st, out);
    };
  });
  if (out.handedOver) throw new HandedOver();
  return out;
}

// Keep the draft; true when it was saved elsewhere meanwhile and now goes on as an edit of that.
export async function keep(d, readAt = Date.now(), opened = null, owner = null) {
  const out = await asOwner(['kv', 'drafts'], owner, (st, out) => {
    const r = st('kv').get(SAVED);
    r.onsuccess = () => {
      const s = r.result?.[d.id];
      if (stale(d, s)) {
        onto(d, s, opened);
        out.moved = true;
      }
      st('drafts').put(d);
    };
  });
  if ((buffered(d.id)?.at ?? Infinity) <= readAt) unbuffer(d.id);
  return !!out.moved;
}

// The draft as the outbox item `build(d)` makes of it, saved with the draft's removal (and, for
// a fixed item saved under a new id, the old item's) in one transaction. A draft saved
// meanwhile in another tab is first moved onto that save. `build` (synchronous) may return
// null: nothing to send, the draft just goes.
// `also(records, item)`: what else the save writes to `records`, in the same transaction (the
// phone's copy of a case it makes: never an outbox entry without its case, or the reverse).
export async function submit(d, build, opened = null, owner = null, also = null) {
  const out = await asOwner(['kv', 'drafts', 'outbox', 'records'], owner, (st, out) => {
    const r = st('kv').get(SAVED);
    r.onsuccess = () => {
      const saved = r.result ?? {};
      if (stale(d, saved[d.id])) onto(d, saved[d.id], opened);
      const item = (out.item = build(d));
      st('drafts').delete(d.id);
      if (!item) return;
      st('outbox').put(item);
      if (d.fixing && item.id !== d.id) st('outbox').delete(d.id);
      also?.(st('records'), item);
      saved[d.id] = { id: item.id, record_id: item.record_id ?? item.id, data: stateAfter(item), at: item.saved_at };
      const ids = Object.keys(saved).sort((a, b) => (saved[a].at < saved[b].at ? 1 : -1));
      for (const old of ids.slice(KEEP)) delete saved[old];
      st('kv').put(saved, SAVED);
    };
  });
  unbuffer(d.id);
  return out.item;
}

// A crash buffer whose draft is gone: saved or deleted in another tab while this one was being
// typed in, or saved here just before a reload cut the clean-up short. What was typed is a
// draft again, going on as an update of what the draft was saved as (as a second tab does),
// unless it adds nothing to that save; either way the buffer goes. The draft, or null.
export async function recover(id) {
  const typed = buffered(id);
  if (!typed) return null;
  const saved = (await db.kv(SAVED))?.[id];
  // a buffer of an older client holds only the data: the form is the saved item's
  const was = typed.draft ?? (saved && ((await db.get('outbox', saved.id)) ?? (await db.get('records', saved.record_id))));
  const d = was && {
    ...(typed.draft ?? { form_id: was.form_id, form_version: was.form_version }),
    id, data: typed.data, fresh: false, updated_at: new Date(typed.at).toISOString(),
  };
  if (d && stale(d, saved)) onto(d, saved, typed.opened);
  const def = d && (await db.get('forms', [d.form_id, d.form_version]));
  if (d && !def) return null; // its form is not on the phone yet (set up again just now): later
  const adds = def && (d.record_id ? Object.keys(changes(def.fields, d.data, d.base ?? {})).length : !blank(d.data));
  if (!adds) {
    unbuffer(id);
    return null;
  }
  await keep(d, typed.at, typed.opened);
  return d;
}

// A rejected item opened to be fixed: whatever it was saved as never reached the server.
export async function reopen(id) {
  await db.tx(['kv'], (st) => {
    const r = st('kv').get(SAVED);
    r.onsuccess = () => {
      if (!r.result?.[id]) return;
      delete r.result[id];
      st('kv').put(r.result, SAVED);
    };
  });
}
