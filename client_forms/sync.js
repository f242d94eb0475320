// Talking to the server: setup, form downloads (If-None-Match), pushing the outbox in
// batches, pulling follow-up cases, and retrying with exponential backoff. One sync runs
// at a time (a sync asked for meanwhile runs once more after it), and none during a setup
// (it waits for it); the UI listens with onStatus().
import * as db from './db.js';
import { markOwner, newOwner, ownedBy, unbufferAll } from './drafts.js';
import { afterPush } from './edit.js';
import { uuid7 } from './uuid7.js';

const API = new URL('../api/v1', location.href).pathname;
const HEALTH = new URL('../healthz', location.href).pathname;
const BATCH = 100; // the protocol allows 1000; small batches keep each request short on 2G
// A push of one entry under this many characters answered 413 is no entry's fault (no proxy
// takes less), nor is one no larger than a push that went through.
const SMALL = 8 * 1024;
// A request that has not finished by then (sent into a link that went dead without closing)
// is given up, and the sync tries again: time enough for a batch on 2G.
const TIMEOUT = 90_000;
const FINAL = new Set(['accepted', 'duplicate', 'conflict', 'pending']);
// How many of the submissions the server took the phone keeps (`sent`), to send again should
// the server lose them: years of one officer's entries, a few MB. The oldest go first.
const KEEP_SENT = 10_000;

export const status = { running: false, error: null, nextRetry: null, lastResult: null };
const listeners = new Set();
export const onStatus = (fn) => listeners.add(fn);
const emit = () => listeners.forEach((fn) => fn(status));

class SyncError extends Error {
  constructor(kind, status, detail) {
    super(detail || kind);
    this.kind = kind; // network | auth | server | storage | other_user, declined, not_officer (setup)
    this.status = status;
    // a 401 too, at the longest delay: an account enabled again goes on by itself
    this.retry = kind === 'network' || kind === 'auth' || status >= 500 || status === 429 || status === 408;
  }
}

async function failure(res) {
  const p = await res.json().catch(() => ({}));
  const kind = res.status === 401 ? 'auth' : 'server';
  const err = new SyncError(kind, res.status, p.detail || p.title || `HTTP ${res.status}`);
  err.problem = p;
  err.retryAfter = Number(res.headers.get('Retry-After')) || 0; // seconds (503 busy: 30)
  return err;
}

// How far the phone's clock may be from the server's before the officer is told to set it
// (captured_at is the phone's clock: one years ahead or behind orders the phone's edits
// wrongly against other phones', and the server flags it `clock_skew`).
const CLOCK_SLACK = 10 * 60000;

// The server's clock, by the `Date` of an answer no cache kept (push, pull): kv `clock_off`,
// how far the phone's is from it (ms), 0 when within CLOCK_SLACK.
function noteClock(res) {
  const at = Date.parse(res.headers.get('Date') ?? '');
  if (Number.isNaN(at)) return;
  const off = Date.now() - at;
  db.setKv('clock_off', Math.abs(off) > CLOCK_SLACK ? off : 0).catch(() => {});
}

// A body gzipped (`pack`, for pushes; the server inflates it, 10 MiB at most): entries are
// mostly text, a fifth or less of it goes over 2G, and it passes proxies that take 1 MiB.
async function packed(text) {
  if (typeof CompressionStream !== 'function' || text.length < 1024) return [text, {}];
  const gz = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return [await new Response(gz).arrayBuffer(), { 'Content-Encoding': 'gzip' }];
}

// `body`: an object, or its JSON text already made (a push measures it first).
export async function api(path, { method = 'GET', body, headers = {}, token, pack = false } = {}) {
  token ??= await db.kv('token');
  let res;
  try {
    const text = typeof body === 'string' ? body : body && JSON.stringify(body);
    const [payload, encoding] = text ? await (pack ? packed : (t) => [t, {}])(text) : [undefined, {}];
    res = await fetch(API + path, {
      method,
      cache: 'no-store',
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        ...(body && { 'Content-Type': 'application/json' }),
        ...encoding,
        ...headers,
      },
      body: payload,
      signal: AbortSignal.timeout(TIMEOUT),
    });
  } catch (e) {
    throw new SyncError('network', 0, e.message);
  }
  if (path.startsWith('/sync/')) noteClock(res);
  return res;
}

// A body cut off or garbled on the way (a dropped link, a captive portal's page) is the
// network's doing, not the server's: tried again like any network failure.
async function json(res) {
  if (!res.ok) throw await failure(res);
  try {
    return await res.json();
  } catch (e) {
    throw new SyncError('network', res.status, e.message);
  }
}

// The same officer: the same name, role and area, and the same user id (/me gives it; a phone
// set up before it did kept none). The same name, role and area under another id is another
// officer of the same name only while the phone's own account still signs in; one that no
// longer does (unknown: a database restored from a backup that lacked it, where the admin
// added the officer again, whose ids after the backup's go to whoever is added next; or
// disabled, a new account made for the same officer) is this officer's new account: the
// phone goes on, and sends again what a restored database lacks. Asked when that cannot be
// told (no network, too many failed sign-ins from this address): tried again later.
async function sameUser(a, b) {
  if (a.name !== b.name || a.role !== b.role || a.area !== b.area) return false;
  if (a.user_id == null || b.user_id == null || a.user_id === b.user_id) return true;
  const res = await api('/me'); // with the phone's own token
  if (res.ok) return false;
  if (res.status === 401) return true;
  throw await failure(res);
}

let settingUp = null; // the running setup: syncs wait for it

// Check the token with /me before keeping anything, so a setup that fails (no network, a
// revoked token) leaves the phone as it was. A token of another officer than the one set up
// takes the phone over only when none of the previous officer's submissions is left unsent
// (saved to a file counts as kept): then their cases, pull cursor and drafts go.
// `agree(before, me, drafts)`: whether the officer agrees to hand the phone over (its cases
// and `drafts` unfinished forms go); asked only when another officer's link is opened.
export function setup(token, agree = () => true) {
  settingUp = takeOver(token, agree).finally(() => {
    settingUp = null;
  });
  return settingUp;
}

async function takeOver(token, agree) {
  const me = await json(await api('/me', { token }));
  // A supervisor's or an admin's token would fill the phone with the cases of a whole
  // province, or every one, none of which it may save (found by a probe).
  if (me.role !== 'officer') throw Object.assign(new SyncError('not_officer', 0), { me });
  while (running) await running; // the previous officer's sync, with their token, ends first
  return oneAtATime(() => handOver(token, agree, me)); // and any other tab's
}

async function handOver(token, agree, me) {
  const before = await db.kv('me');
  if (before && !(await sameUser(before, me))) {
    const saved = (await db.kv('exported')) ?? {}; // {id: saved_at} of the last outbox file
    const unsent = (await db.all('outbox')).filter((i) => saved[i.id] !== i.saved_at).length;
    if (unsent) throw Object.assign(new SyncError('other_user', 0), { before, me, unsent });
    // A link from a message or a page must not take the phone and its drafts unasked.
    const drafts = (await db.all('drafts')).length;
    if (!(await agree(before, me, drafts))) throw Object.assign(new SyncError('declined', 0), { before, me });
    for (const store of ['outbox', 'drafts', 'records', 'sent']) await db.clear(store);
    for (const key of ['cursor', 'last_sync', 'exported', 'saved_drafts']) await db.del('kv', key);
    unbufferAll();
    newOwner(); // what other tabs type from now on is the previous officer's: never recovered
    await db.setKv('owner', uuid7()); // and what they save (drafts.HandedOver)
    // and a device of its own: a value the previous officer sent is not "this phone"'s
    await db.del('kv', 'device_id');
    Object.assign(status, { error: null, nextRetry: null, lastResult: null });
  } else if (!before && !ownedBy(me)) newOwner(); // (the same officer after a cleared store: kept)
  await db.setKv('me', me);
  markOwner(me);
  if (!(await db.kv('device_id'))) await db.setKv('device_id', uuid7());
  await db.setKv('token', token); // last: a stored token means a phone set up
  // Ask the browser not to evict the outbox when the phone is short of space.
  await navigator.storage?.persist?.().catch(() => false);
  return me;
}

// The server's list of forms: {manifest, etag}, etag null when it did not change (304).
async function listForms() {
  const etag = await db.kv('forms_etag');
  const held = etag && (await db.kv('manifest'));
  const res = await api('/forms', { headers: held ? { 'If-None-Match': etag } : {} });
  if (res.status === 304) return { manifest: held, etag: null };
  return { manifest: (await json(res)).forms, etag: res.headers.get('ETag') };
}

// A version the phone holds that the server has with another content (`sha256`: a database
// restored from a backup, then a version of the same number published again): the unsent
// entries made on it are set aside to be looked at again (`form_changed`), since the server
// would read their values by the meaning its fields have now. Before the outbox goes.
async function setAside(manifest) {
  for (const f of manifest) {
    const held = await db.get('forms', [f.form_id, f.version]);
    if (!held?.sha256 || held.sha256 === f.sha256) continue;
    const stale = (await db.all('outbox')).filter((i) => i.form_id === f.form_id && i.form_version === f.version && i.status !== 'rejected');
    const errors = [{ path: '', code: 'form_changed' }];
    await db.putMany('outbox', stale.map((i) => ({ ...i, status: 'rejected', errors })));
  }
}

// The server's forms, after the outbox has gone: each latest version the phone lacks, or
// holds with another content, or without `renames` (kept by an app before versions came with
// them), is downloaded; earlier versions too, once each (immutable): the labels of fields and
// choices a later version removed, which cases keep, come from them. `listed`: the list this
// sync already has.
export async function refreshForms(listed = null) {
  const { manifest, etag } = listed ?? (await listForms());
  if (!listed) await setAside(manifest); // else done with the list, before the outbox went
  for (const f of manifest) {
    const held = await db.get('forms', [f.form_id, f.version]);
    if (held && (!held.sha256 || held.sha256 === f.sha256) && held.renames) continue;
    const def = await json(await api(`/forms/${encodeURIComponent(f.form_id)}/versions/${f.version}`));
    await db.put('forms', { ...def, form_id: f.form_id, version: f.version });
  }
  await db.setKv('manifest', manifest); // the forms can be filled in from here on
  if (etag) await unfollowed(manifest);
  let whole = true;
  for (const f of manifest) {
    for (let v = 1; v < f.version; v++) {
      if (await db.get('forms', [f.form_id, v])) continue;
      // only labels hang on these: one that fails holds nothing back, and comes next time
      const def = await api(`/forms/${encodeURIComponent(f.form_id)}/versions/${v}`).then(json).catch(() => null);
      if (def) await db.put('forms', { ...def, form_id: f.form_id, version: v });
      else whole = false;
    }
  }
  // Only once every version is stored, so an interrupted download resumes next time.
  if (etag && whole) await db.setKv('forms_etag', etag);
}

// The cases of a form a version made no longer a follow-up form (`sync_to_devices` off): the
// server sends no more of their changes, so the phone's copies go, out of date from now on;
// not the case an unsent entry or an open draft is made on (a case this phone made and has
// not sent among them).
async function unfollowed(manifest) {
  const off = new Set(manifest.filter((f) => !f.sync_to_devices).map((f) => f.form_id));
  if (!off.size) return;
  const mine = new Set([...(await db.all('outbox')), ...(await db.all('drafts'))].flatMap((i) => [i.id, i.record_id]));
  const gone = (await db.all('records')).filter((r) => off.has(r.form_id) && !mine.has(r.record_id));
  if (gone.length) await db.delMany('records', gone.map((r) => r.record_id));
}

// The outbox item as the protocol wants it (Submission forbids unknown fields).
export function toWire(item) {
  const { id, form_id, form_version, record_id, parents, captured_at, data, resolves } = item;
  return {
    id, form_id, form_version, parents: parents ?? [], captured_at, data,
    ...(record_id && { record_id }),
    ...(resolves?.length && { resolves }),
  };
}

// `submissions[3].data.cac_ben[1].nam_sinh` -> `cac_ben[1].nam_sinh`; '' for the whole item.
const fieldPath = (p) => /^submissions\[\d+\]\.data\.(.+)$/.exec(p ?? '')?.[1] ?? '';

async function pushOutbox() {
  let deviceId = await db.kv('device_id');
  if (!deviceId) await db.setKv('device_id', (deviceId = uuid7())); // the server requires one
  const box = await db.all('outbox');
  const boxed = new Map(box.map((i) => [i.id, i]));
  // What the server has not taken: rejected items and the edits held behind them; an entry set
  // aside as too large goes again (the 413 may have been a proxy's passing mistake).
  const large = (i) => i.status === 'rejected' && i.errors?.length && i.errors.every((e) => e.code === 'too_large');
  const blocked = new Set(box.filter((i) => (i.status === 'rejected' && !large(i)) || i.status === 'held').map((i) => i.id));
  let held = box.filter((i) => i.status === 'held').sort((a, b) => (a.id < b.id ? -1 : 1));
  const items = box
    .filter((i) => !blocked.has(i.id))
    .sort((a, b) => (a.id < b.id ? -1 : 1)); // UUIDv7: the order they were saved, parents first
  const counts = {};
  let size = BATCH;
  let fits = 1; // the most entries a push that went through held
  let largest = 0; // the longest push that went through (characters of JSON)
  for (let i = 0; i < items.length;) {
    const batch = items.slice(i, i + size);
    const body = JSON.stringify({ device_id: deviceId, submissions: batch.map(toWire) });
    const length = body.length;
    let results;
    try {
      ({ results } = await json(await api('/sync/push', { method: 'POST', body, pack: true })));
    } catch (e) {
      if (e.status !== 413) throw e;
      // Too large for the server (10 MiB) or for a proxy before it (nginx takes 1 MiB unless
      // told otherwise): halved until it goes; one entry alone too large is set aside to be
      // made smaller, and the others go on without it.
      if (batch.length > 1) {
        size = Math.ceil(batch.length / 2);
        continue;
      }
      const [item] = batch;
      // One entry refused that is small, or no larger than what went through: the proxy (or
      // the server) refuses everything now, and no entry is to blame; tried again later, with
      // backoff. Else it is set aside (and tried again at the next sync).
      if (length < SMALL || length <= largest) throw Object.assign(e, { retry: true });
      await db.tx(['outbox'], (st) => asSent(st('outbox'), item, () =>
        st('outbox').put({ ...item, status: 'rejected', errors: [{ path: '', code: 'too_large' }] })));
      blocked.add(item.id);
      counts.rejected = (counts.rejected ?? 0) + 1;
      i += 1;
      size = fits;
      continue;
    }
    i += batch.length;
    fits = Math.max(fits, batch.length);
    largest = Math.max(largest, length);
    const byId = new Map(batch.map((b) => [b.id, b]));
    const left = new Map(); // id -> merged (not pending) for the items the server took
    const keep = [];
    const merged = [];
    for (const r of results) {
      const item = byId.get(r.id);
      // (`duplicate` too: the answer that told `pending` was lost, or another tab sent it)
      const behind = (r.status === 'pending' || r.status === 'duplicate') && !!item?.parents?.some((p) => blocked.has(p));
      const as = behind ? 'held' : r.status; // counted as the outbox then calls it
      counts[as] = (counts[as] ?? 0) + 1;
      if (!item) continue;
      if (behind) {
        // Built on an item of this phone that the server refused: stored there but never
        // merged until that item is fixed (or discarded, and this one sent again), so it
        // stays in the outbox, and in the file the outbox is saved to.
        blocked.add(r.id);
        keep.push({ ...item, status: 'held' });
      } else if (FINAL.has(r.status)) {
        left.set(r.id, r.status !== 'pending');
        // (an entry sent again is older than the phone's copy of its case: the pull brings it)
        if (r.status !== 'pending' && item.record_id && !item.again) merged.push({ item, conflicts: r.conflicts ?? [] });
      } else if (r.status === 'rejected') {
        const errors = (r.errors?.length ? r.errors : [{ code: r.reason ?? 'invalid', message: r.reason }])
          .map((e) => ({ ...e, path: fieldPath(e.path) }));
        blocked.add(r.id);
        keep.push({ ...item, status: 'rejected', errors });
      }
    }
    // A fixed item taken under its own id: the edits held behind it were merged with it.
    held = held.filter((h) => {
      const p = h.parents.find((id) => left.has(id));
      if (p === undefined) return true;
      left.set(h.id, left.get(p));
      if (left.get(p) && h.record_id && !h.again) merged.push({ item: h, conflicts: [] });
      return false;
    });
    // Out of the outbox and into `sent`, in one transaction: never in neither.
    const sentAt = new Date().toISOString();
    const move = (kept) => db.tx(['outbox', 'sent'], (st) => {
      for (const id of left.keys()) {
        asSent(st('outbox'), boxed.get(id), () => {
          const { status: _s, errors: _e, again: _a, ...item } = boxed.get(id);
          st('outbox').delete(id);
          if (kept) st('sent').put({ ...item, sent_at: sentAt });
        });
      }
      keep.forEach((item) => asSent(st('outbox'), item, () => st('outbox').put(item)));
    });
    await move(true).catch(async (e) => {
      if (!db.isFull(e)) throw e;
      // No room on the phone: the oldest kept copies make some; failing that, what the server
      // took leaves the outbox without one (sent again and again, it would keep the phone
      // from ever pulling, and from being handed over).
      await db.delFirst('sent', Math.max(left.size, Math.ceil((await db.count('sent')) / 2))).catch(() => {});
      await move(true).catch(() => move(false));
    });
    await updateCases(merged);
  }
  if (items.length) status.lastResult = counts;
  const extra = (await db.count('sent')) - KEEP_SENT;
  if (extra > 0) await db.delFirst('sent', extra);
}

// `then()`, in the transaction of `outbox`, if the entry is still the one a push sent: one the
// officer fixed (saved again, under its id) or discarded while the push was on its way (an
// entry set aside as too large goes at every sync while it is offered to be fixed) stays as
// the officer left it. The server's answer to the old one had put the old one back over the
// fix, or filed it as sent and dropped the fix unsent.
function asSent(outbox, item, then) {
  const now = outbox.get(item.id);
  now.onsuccess = () => {
    if (now.result && now.result.saved_at === item.saved_at) then();
  };
}

// A server that has lost what it took (its database restored from a backup) gets again
// everything this phone sent: what it still has comes back `duplicate`, what it lost is
// stored again, and the edits built on it (this phone's, or other phones' held `pending`
// there) are merged. Through the outbox (`requeue`, then the push), so that an entry the
// server now refuses (a form version it no longer has) is shown to be fixed, and one a lost
// network leaves unsent goes with the next sync.
// The edits held behind a refused one go again too: the server stored them `pending`, and a
// restored one may have lost them (they are held again as they come back; sent nowhere,
// they had left the outbox unsent once the refused one was fixed).
async function requeue() {
  const sent = await db.all('sent');
  const box = await db.all('outbox');
  const held = box.filter((i) => i.status === 'held');
  if (!sent.length && !held.length) return;
  const queued = new Set(box.map((i) => i.id));
  await db.tx(['outbox', 'sent'], (st) => {
    for (const { sent_at: _t, ...item } of sent) if (!queued.has(item.id)) st('outbox').put({ ...item, again: true });
    for (const { status: _s, ...item } of held) st('outbox').put({ ...item, again: true });
    st('sent').clear();
  });
}

// The phone's copy of each case an edit went into, as the server now has it (heads and data),
// without waiting for the pull: on 2G the pull after a push often fails, and the next edit
// built on the old heads would conflict with the officer's own.
// A push that answered `conflict` names the fields: they stay in conflict on the phone (its
// own value shown, the others to come with the next pull), never shown as settled by it.
async function updateCases(items) {
  const cases = new Map();
  const device = await db.kv('device_id');
  for (const { item, conflicts } of items) {
    const rec = cases.get(item.record_id) ?? (await db.get('records', item.record_id));
    const next = rec && afterPush(rec, item, await db.servedForm(item.form_id), conflicts, device);
    if (next) cases.set(item.record_id, next);
  }
  if (cases.size) await db.putMany('records', [...cases.values()]);
}

// Another database behind the same address (a backup restored, or served on a new machine):
// it may lack what this phone sent, so all of it goes again, and the cases are pulled from
// the start, those the phone holds that it lacks going. Each step is kept before the next,
// so a sync cut short anywhere carries on and never sends it all a second time: the pull
// marked (kv `pull_again`) and its cursor dropped, what was sent back in the outbox, then
// the database noted (`id`; unknown, found by the cursor's `reset_required`: the next
// `/healthz` answer is taken as it is), then the push.
const UNKNOWN = 'reset';
async function restarted(id = null) {
  await fromStart();
  await requeue();
  await db.setKv('database', id ?? UNKNOWN);
  await pushOutbox();
}

// The next pull from the start, marked (see pullRecords), whatever cuts it short.
async function fromStart() {
  await db.setKv('pull_again', uuid7());
  await db.del('kv', 'cursor');
}

// Which database the server holds (`/healthz`, which changes with a restore), against the
// one this phone last synced with. No answer (a proxy that hides it): the pull's
// `reset_required` says it all the same.
async function checkDatabase() {
  const res = await fetch(HEALTH, { cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT) }).catch(() => null);
  const id = res?.ok ? (await res.json().catch(() => ({}))).database : null;
  if (!id) return;
  const known = await db.kv('database');
  if (known && known !== UNKNOWN && known !== id) await restarted(id);
  else if (known !== id) await db.setKv('database', id);
}

async function pullRecords() {
  let since = await db.kv('cursor');
  let fresh = await db.kv('pull_again'); // a pull from the start under way: its mark
  for (;;) {
    const q = new URLSearchParams({ limit: '200', ...(since && { since }) });
    const res = await api(`/sync/pull?${q}`);
    if ((res.status === 409 || res.status === 400) && since) {
      // A cursor from another database (a restored backup) or one the server cannot read:
      // pull everything again rather than stay stuck.
      const p = await res.json().catch(() => ({}));
      if (['reset_required', 'bad_cursor'].includes(p.code) || /reset_required|bad_cursor/.test(p.type ?? '')) {
        if (p.code === 'reset_required' || /reset_required/.test(p.type ?? '')) await restarted();
        else await fromStart();
        fresh = await db.kv('pull_again');
        since = null;
        continue;
      }
      throw new SyncError('server', res.status, p.detail);
    }
    const page = await json(res);
    // (marked, so that what the phone holds and this pull never brought is known at its end,
    // however many syncs it takes)
    await db.putMany('records', fresh ? page.records.map((r) => ({ ...r, pulled: fresh })) : page.records);
    since = page.next;
    await db.setKv('cursor', since);
    if (!page.more) break;
  }
  if (fresh) {
    // (a case this phone made whose creation is still in the outbox is the phone's own: kept;
    // sent again to a restored server that now refuses it, it waits there to be fixed)
    const unsent = new Set((await db.all('outbox')).map((i) => i.id));
    const stale = (await db.all('records')).filter((r) => r.pulled !== fresh && !unsent.has(r.record_id));
    await db.delMany('records', stale.map((r) => r.record_id));
    await db.del('kv', 'pull_again');
  }
}

// One sync at a time on the phone, whatever tab runs it (Web Locks): a tab that pushed the
// outbox as it was before another tab's sync changed it would write that old state back (a
// rejected item the other tab has fixed or discarded since). A browser without them: this
// tab's order only.
const oneAtATime = (fn) => (navigator.locks ? navigator.locks.request('coso-sync', fn) : fn());

// One sync: the list of forms, the outbox, the form downloads, the cases.
async function pass() {
  if (!(await db.kv('token'))) return;
  // A phone whose setup was cut short by an older client, or whose officer was kept without
  // the user id: finish it (the phone's own token: its officer).
  if ((await db.kv('me'))?.user_id == null) await db.setKv('me', await json(await api('/me')));
  // The list of forms first (one small request, 304 when nothing changed): an entry made
  // on a version the server now has with another content must not go out as it is. Its
  // failure holds nothing back: the officer's data goes next, the downloads after it.
  const listed = await listForms().then(async (l) => { await setAside(l.manifest); return l; }, () => null);
  // (no list: checked against the last one, as far as it goes: a version whose download was
  // cut short holds another content than the list said)
  if (!listed) await setAside((await db.kv('manifest')) ?? []);
  await pushOutbox();
  await checkDatabase();
  await refreshForms(listed);
  await pullRecords();
  failures = 0;
  await db.setKv('last_sync', new Date().toISOString());
}

// An account disabled (a lost or stolen phone, an officer gone): the cases the phone
// downloaded go, names, addresses and phone numbers of the parties with them. What the officer
// made and has not sent stays (the outbox, the drafts, a case made here): sent once the
// account is enabled again, when the cases come down anew (the cursor goes too).
async function forgetCases() {
  const unsent = new Set((await db.all('outbox')).map((i) => i.id));
  const pulled = (await db.all('records')).filter((r) => !(r.local && unsent.has(r.record_id)));
  await db.delMany('records', pulled.map((r) => r.record_id));
  await db.del('kv', 'cursor');
}

let running = null;
let again = null; // the pass after the running one, for syncs asked for while it runs
let failures = 0;
let timer = null;

export function syncNow() {
  if (settingUp) return settingUp.catch(() => {}).then(syncNow); // with whoever is set up then
  // The running pass may have read the outbox before the item that asks for this sync.
  if (running) return (again ??= running.then(() => { again = null; return syncNow(); }));
  clearTimeout(timer);
  status.nextRetry = null;
  running = (async () => {
    status.running = true;
    status.error = null;
    emit();
    try {
      await oneAtATime(pass);
    } catch (e) {
      // anything else (a response the browser could not read) is tried again as a network failure
      // (the phone's storage full: not tried again by itself, every try would send it all anew)
      status.error = e instanceof SyncError ? e
        : db.isStorageError(e) ? new SyncError('storage', 0, e.name) : new SyncError('network', 0, String(e));
      if (status.error.problem?.code === 'account_disabled') await forgetCases().catch(() => {});
      // Offline, the `online` event starts the next try; no timers burning the battery.
      if (status.error.retry && navigator.onLine) {
        failures += 1;
        const most = 5 * 60000;
        const backoff = status.error.kind === 'auth' ? most : Math.min(2000 * 2 ** (failures - 1), most);
        // never sooner than the server asked (503 busy: Retry-After 30)
        const delay = Math.max(backoff * (0.75 + Math.random() / 2), (status.error.retryAfter ?? 0) * 1000);
        status.nextRetry = Date.now() + delay;
        timer = setTimeout(syncNow, delay);
      }
    } finally {
      status.running = false;
      running = null;
      emit();
    }
  })();
  return running;
}

// A new network connection: try at once, forgetting the backoff.
export function online() {
  failures = 0;
  return syncNow();
}
