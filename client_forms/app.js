// The officer's app: setup from the link, screens (forms, drafts, outbox, cases), the sync
// status bar. Routes live in the URL fragment: #/, #/new/FORM, #/draft/ID, #/outbox,
// #/fix/ID, #/cases, #/case/ID, #/edit/ID. A setup link's #token=… (opened in a new tab or
// in this one) is read and wiped at once.
import * as db from './db.js';
import * as drafts from './drafts.js';
import { applied, blank, changes, localCase, rebased, recordUnder, underNames } from './edit.js';
import { L, Lp, ask, pair, t, text, th, timeText } from './i18n.js';
import { describeError, deviceText, formatValue, h, nowRfc3339, renderData, renderForm, reword, summary } from './render.js';
import * as sync from './sync.js';
import { uuid7 } from './uuid7.js';
import { validate } from './validate.js';

const main = document.getElementById('main');
const bar = document.getElementById('status');
let leave = null; // flushes the open form's draft before the screen changes
// A message for the next screen ({text, shown}): it stays while syncs redraw that screen
// ("Saved" went with the redraw of the sync the save started) and goes when the officer moves.
let flash = null;
// `at`: the screen it is said on, when the officer may have left it before it could be
// (it goes with her to no other)
const say = (text, at = null) => { flash = { text, shown: false, at }; };
let pending = null; // a setup token that met no network, tried again when the network returns
let barOpen = false; // the status bar's second line in full
let caseQuery = ''; // what the officer searches the case list for
let refilter = () => {}; // the search box's filter of the case list shown
let pressed = false; // a finger or the mouse is down

// Tapping another control ends the edit of a field (its `change`): an error that then comes or
// goes moves the controls below it, and a tap whose press and release land on different
// controls is lost. So that error is shown once the tap is over.
const released = []; // what waits for the tap to end
addEventListener('pointerdown', () => { pressed = true; }, true);
for (const type of ['pointerup', 'pointercancel']) {
  addEventListener(type, () => {
    pressed = false;
    released.splice(0).forEach((fn) => setTimeout(fn)); // after the click this release makes
  }, true);
}
const afterTap = (fn) => (pressed ? released.push(fn) : setTimeout(fn));

// What is wrong with the phone's storage (db.trouble), above every screen while it lasts: an
// officer whose Save does nothing must know why, and must not "fix" it by clearing the data.
const alertBox = h('div', { id: 'storage-alert', role: 'alert', hidden: true });
bar.before(alertBox);
function showTrouble(kind) {
  alertBox.hidden = !kind;
  alertBox.replaceChildren(...(kind ? [
    h('p', {}, t(`storage_${kind}`)),
    kind === 'closed' ? h('button', { type: 'button', onclick: () => location.reload() }, t('reload')) : null,
  ] : []));
}
db.onTrouble(showTrouble);

const go = (hash) => location.replace(hash);
const link = (href, text, cls = 'btn') => h('a', { href, class: cls }, text);

const latestDef = db.latestForm;

const currentDef = db.servedForm;

// A field of a form by its name under `def`: `def`'s own, else the newest earlier version's
// (a field removed since, whose values a case keeps), its name there mapped to `def`'s.
async function knownField(def, name) {
  const here = def?.fields.find((f) => f.name === name);
  if (here || !def) return here;
  const older = (await db.all('forms')).filter((d) => d.form_id === def.form_id && d.version < def.version)
    .sort((a, b) => b.version - a.version);
  for (const d of older) {
    const f = d.fields.find((x) => (Object.hasOwn(def.renames ?? {}, x.name) ? def.renames[x.name] : x.name) === name);
    if (f) return f;
  }
  return undefined;
}

// --- status bar ------------------------------------------------------------------------

// A time span as a pair, in the unit that reads best: "3 giờ" / "3 hours".
function howLong(ms) {
  const m = Math.round(Math.abs(ms) / 60000);
  if (m < 120) return [`${m} phút`, `${m} minutes`];
  if (m < 48 * 60) return [`${Math.round(m / 60)} giờ`, `${Math.round(m / 60)} hours`];
  return [`${Math.round(m / 1440)} ngày`, `${Math.round(m / 1440)} days`];
}

async function renderStatus() {
  if (!(await db.kv('token'))) {
    bar.replaceChildren();
    return;
  }
  const box = await db.all('outbox');
  const rejected = box.filter((i) => i.status === 'rejected').length;
  const held = box.filter((i) => i.status === 'held').length;
  const last = await db.kv('last_sync');
  const clockOff = await db.kv('clock_off');
  const s = sync.status;
  const err = s.error;
  // Two lines at most, each cut short on a small phone: what needs the officer on the first
  // (what went wrong before the count waiting, which the outbox tab shows too; offline, the
  // usual state, after it), the sync's
  // details on the second; a tap shows them in full.
  const first = [
    rejected ? h('span', { id: 'st-rejected', class: 'bad' }, t('rejected_n', { n: rejected })) : null,
    held ? h('span', { id: 'st-held', class: 'bad' }, t('held_n', { n: held })) : null,
    clockOff ? h('span', { id: 'st-clock', class: 'bad' }, t('clock_off', { n: howLong(clockOff) })) : null,
    err ? h('span', { id: 'st-error', class: 'bad' },
      err.kind === 'network' ? t('err_network') : err.kind === 'storage' ? t('err_storage')
        : err.kind === 'auth' ? t(err.problem?.code === 'account_disabled' ? 'err_disabled' : 'err_auth')
          : t('err_server', { m: err.message })) : null,
    h('span', { id: 'st-waiting' }, t('waiting', { n: box.length - rejected - held })),
    // after the count: offline is the officer's usual state in the field, and at 360 px it
    // came first and left "Chờ gửi" cut off behind the ellipsis
    navigator.onLine ? null : h('span', { id: 'st-offline', class: 'bad' }, t('offline')),
  ];
  const second = [
    s.nextRetry ? h('span', {}, t('retry_at', { t: timeText(new Date(s.nextRetry).toISOString()).slice(0, 5) })) : null,
    s.lastResult ? h('span', { id: 'st-result' }, t('last_result', {
      r: [0, 1].map((i) => Object.entries(s.lastResult).map(([k, n]) => `${n} ${pair(`st_${k}`)[i]}`).join(', ')),
    })) : null,
    h('span', { id: 'st-last' }, t('last_sync', { t: last ? timeText(last) : pair('never') })),
  ];
  // The bar is drawn anew; a control of it that had the focus (Sync, pressed from the
  // keyboard) keeps it. Sync is aria-disabled while it runs, not disabled, which would drop it.
  const focused = bar.contains(document.activeElement) ? document.activeElement.id || 'st-text' : null;
  bar.replaceChildren(
    h('button', { type: 'button', id: 'st-text', class: `st-text${barOpen ? ' open' : ''}`, title: text(pair('st_more')),
      'aria-expanded': String(barOpen), onclick: () => { barOpen = !barOpen; renderStatus(); } },
    h('span', { class: 'st-line' }, first), h('span', { class: 'st-line' }, second)),
    h('button', { id: 'sync-btn', type: 'button', 'aria-disabled': s.running ? 'true' : null,
      onclick: () => { if (!sync.status.running) sync.online(); } },
    th(s.running ? 'syncing' : 'sync')),
  );
  if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
  const tab = document.querySelector('a[href="#/outbox"] .count');
  if (tab) tab.textContent = box.length ? `(${box.length})` : '';
}

// Each tab on two lines: the Vietnamese (with the outbox's count), the English under it.
function nav(current) {
  const tab = (href, key) => {
    const [vi, en] = pair(key);
    return h('a', { href, class: `tab${current === href ? ' on' : ''}`, 'aria-current': current === href ? 'page' : null },
      h('span', {}, vi, key === 'outbox' ? h('span', { class: 'count' }) : null),
      h('span', { class: 'en sub', lang: 'en' }, en));
  };
  return h('nav', { class: 'tabs' }, tab('#/', 'forms'), tab('#/outbox', 'outbox'), tab('#/cases', 'tab_cases'));
}

function page(current, ...kids) {
  main.replaceChildren(...[nav(current), flashed(), ...kids].flat().filter((k) => k != null && k !== false));
  renderStatus();
}

// The flash: what the officer's last action did, above the screen, with its words at once
// (words put in later moved what was under her finger). A screen reader is told it once,
// by the status line kept in the page (#announcer): a live region put in with its words
// already in it is not said by every screen reader, and one put in again at each redraw (a
// sync landing) would be said again.
function flashed() {
  if (flash?.at && flash.at !== location.hash) flash = null; // for a screen she has left
  if (!flash) return null;
  if (!flash.shown) announce(flash.text);
  flash.shown = true;
  return h('p', { class: 'flash' }, flash.text);
}

// "Saved. It will be sent when online." said on, after a sync had sent what was saved, the
// opposite of the status bar's "Waiting: 0": once the entry has left the outbox, "Saved, and
// sent" (drawn by the redraw the sync's end asks for).
async function sentFlash() {
  const f = flash;
  if (!f?.item) return;
  const still = await db.get('outbox', f.item).catch(() => true);
  if (!still && flash === f) Object.assign(f, { text: t('saved_sent'), item: null });
}

function announce(words) {
  const said = h('span', {}, ...[words].flat().map((w) => (typeof w === 'string' ? w : w.cloneNode(true))));
  const announcer = document.getElementById('announcer') // (a page cached before it had one)
    ?? document.body.appendChild(h('p', { id: 'announcer', class: 'sr-only', role: 'status' }));
  announcer.replaceChildren();
  setTimeout(() => announcer.replaceChildren(...said.childNodes), 100); // a change it hears
}

// --- screens ---------------------------------------------------------------------------

async function setupView(problem = '', token = '') {
  // a problem is said (an alert), tied to the box, which takes the focus to try again
  const input = h('input', {
    id: 'setup-token', type: 'text', autocomplete: 'off', value: token,
    'aria-invalid': problem ? 'true' : null, 'aria-describedby': problem ? 'setup-error' : null,
  });
  main.replaceChildren(h('section', { class: 'card' },
    h('h2', {}, th('setup_title')),
    // set up before (its marks in localStorage), its store gone: the browser cleared it
    drafts.wasSetUp() ? h('p', { class: 'notice', id: 'storage-cleared' }, t('storage_cleared')) : null,
    h('p', {}, t('setup_text')),
    h('label', { for: 'setup-token' }, th('setup_input')), input,
    problem ? h('p', { class: 'err', id: 'setup-error', role: 'alert' }, problem) : null,
    h('button', { type: 'button', onclick: () => {
      const v = input.value.trim();
      doSetup(decodeURIComponent(v.match(/token=([^&\s]+)/)?.[1] ?? v));
    } }, t('setup_btn'))));
  bar.replaceChildren();
  if (problem) input.focus({ preventScroll: true });
}

// Two officers as the phone names them: with their areas (an officer moved to another
// commune has a new account of the same name), and their ids when even those are the same.
function who(before, me) {
  const one = (u) => {
    const twin = before.name === me.name && (before.area_name || before.area) === (me.area_name || me.area);
    return `${u.name} (${u.area_name || u.area || '*'}${twin && u.user_id != null ? `, #${u.user_id}` : ''})`;
  };
  return { old: one(before), new: one(me) };
}

// Nothing is kept unless the setup succeeds; a phone already set up carries on as it was.
// A token is coso's alphabet only (URL-safe base64): what a chat app or a copy adds to a link
// (a zero-width space, the full stop or bracket after it, a space, a line break) goes.
const cleanToken = (token) => token.replace(/[^A-Za-z0-9_-]/g, '');

async function doSetup(token) {
  token = cleanToken(token);
  pending = null;
  try {
    await sync.setup(token, (before, me, drafts) => confirm(ask('confirm_switch', { ...who(before, me), n: drafts })));
  } catch (e) {
    const kept = !!(await db.kv('token').catch(() => null)); // a phone already set up
    const problem = {
      // the link's account, not the phone's (which may be another officer's, and fine)
      auth: () => t(e.problem?.code === 'account_disabled' ? 'setup_link_disabled' : 'setup_bad'),
      network: () => t(kept ? 'setup_offline_kept' : 'setup_offline'),
      other_user: () => t('setup_other_user', { n: e.unsent, ...who(e.before, e.me) }),
      declined: () => t('setup_declined', who(e.before, e.me)),
      not_officer: () => t('setup_not_officer', {
        role: [{ supervisor: 'giám sát', admin: 'quản trị' }[e.me.role] ?? e.me.role, e.me.role], name: e.me.name,
      }),
    }[e.kind]?.() ?? (db.isStorageError(e) ? t(`storage_${db.trouble.kind ?? 'broken'}`) : t('err_server', { m: e.message }));
    if (!kept) {
      if (e.kind === 'network') pending = token;
      return setupView(problem, pending ?? '');
    }
    say(problem);
    // Where the previous officer can sync or save the outbox to a file.
    history.replaceState(null, '', e.kind === 'other_user' ? '#/outbox' : '#/');
    return route();
  }
  await showUser();
  await sync.online();
  route();
}

// `#token=…` in the address: take it out of the address bar and the history, then set up.
function takeToken() {
  const token = /^#token(?:=|%3D)([^&]+)/i.exec(location.hash)?.[1];
  if (!token) return false;
  history.replaceState(null, '', location.pathname + location.search);
  let text;
  try {
    text = decodeURIComponent(token);
  } catch {
    text = token.split('%')[0]; // cut inside a %-escape after it: a token holds no `%`
  }
  doSetup(text);
  return true;
}

async function showUser() {
  const me = await db.kv('me');
  document.getElementById('who').textContent = me ? `${me.name} · ${me.area_name || me.area}` : '';
}

// A draft as last typed: its crash buffer when that is newer (the draft could not be kept
// since: a full phone, a reload in the middle of an autosave).
function asTyped(d) {
  const b = drafts.buffered(d.id);
  return b && b.at > Date.parse(d.updated_at ?? 0) ? { ...d, data: b.data, updated_at: new Date(b.at).toISOString() } : d;
}

// What a draft holds, to tell drafts apart: the case it updates, or its first text written.
async function draftHint(d) {
  const def = await db.get('forms', [d.form_id, d.form_version]);
  if (d.record_id) {
    const s = summary(def, d.base ?? d.data, 2, await oldLabels(d.form_id));
    return [t('draft_update'), ': ', s.length ? s : d.record_id.slice(-6)];
  }
  const typed = def?.fields.find((f) => f.type === 'text' && typeof d.data?.[f.name] === 'string' && d.data[f.name].trim());
  if (typed) return d.data[typed.name].length > 60 ? `${d.data[typed.name].slice(0, 59)}…` : d.data[typed.name];
  const s = summary(def, d.data, 2);
  return s.length ? s : t('draft_empty');
}

async function homeView() {
  const manifest = (await db.kv('manifest')) ?? [];
  const hour = new Date(Date.now() - 3600e3).toISOString();
  const stored = await db.all('drafts');
  // Text typed into a draft that has gone since (see drafts.recover): a draft again, or let go.
  for (const id of drafts.orphans(stored.map((d) => d.id))) {
    const d = await drafts.recover(id);
    if (d) stored.push(d);
  }
  // New drafts with nothing entered (a tab closed on an empty form) go; a fresh one may still
  // be open in another tab, so only after an hour.
  const empty = stored.filter((d) => !d.record_id && !d.fixing && blank(d.data) && !drafts.buffered(d.id));
  await db.delMany('drafts', empty.filter((d) => d.updated_at < hour).map((d) => d.id));
  const list = stored.filter((d) => !empty.includes(d)).sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
  const hints = await Promise.all(list.map((d) => draftHint(asTyped(d))));
  const titles = Object.fromEntries(manifest.map((f) => [f.form_id, f.title]));
  page('#/',
    h('section', {},
      h('h2', {}, th('forms')),
      manifest.length
        ? h('ul', { class: 'list', id: 'form-list' }, manifest.map((f) =>
          h('li', {}, link(`#/new/${f.form_id}`, L(f.title), 'btn big'))))
        : h('p', {}, t('no_forms'))),
    list.length ? h('section', {},
      h('h2', {}, th('drafts')),
      h('ul', { class: 'list', id: 'draft-list' }, list.map((d, i) =>
        h('li', {}, link(`#/draft/${d.id}`, [h('strong', {}, titles[d.form_id] ? L(titles[d.form_id]) : d.form_id),
          h('small', { class: 'draft-hint' }, hints[i]),
          h('small', {}, timeText(d.updated_at))], 'btn secondary case'))))) : null);
}

async function newDraft(formId) {
  const manifest = (await db.kv('manifest')) ?? [];
  const f = manifest.find((x) => x.form_id === formId);
  const def = f && (await db.get('forms', [f.form_id, f.version]));
  if (!def) return go('#/');
  const id = uuid7();
  const here = location.hash;
  await db.put('drafts', { id, form_id: formId, form_version: def.version, data: {}, fresh: true, updated_at: new Date().toISOString() });
  // another form tapped while this one's draft was written: that one opens, not this one
  // (whose `go` would have put it in the place of the other's address)
  if (location.hash !== here) return db.del('drafts', id);
  go(`#/draft/${id}`);
}

// A rejected outbox item opens as a draft with the same id: saved, it goes out under that id
// again (it was never stored, and an edit saved on top of it, held `pending` by the server,
// then finds its parent), or under a new one if the id itself was refused (id_reused). An edit
// keeps its base, so the fields the officer emptied are sent as null again.
async function fixItem(id) {
  if (!(await db.get('drafts', id))) {
    const item = await db.get('outbox', id);
    if (!item) return go('#/outbox');
    await drafts.reopen(id);
    // A version the server no longer has (a restored database): fixed on the one it serves.
    const gone = item.errors?.some((e) => e.code === 'unknown_version');
    const def = gone ? await currentDef(item.form_id) : await db.get('forms', [item.form_id, item.form_version]);
    const names = (data) => underNames(data, def?.renames);
    // an edit saved by an older client has no base: it sent the whole form
    const base = item.record_id ? names(item.base ?? (await db.get('records', item.record_id))?.data ?? {}) : undefined;
    // the conflicts it settled stay ticked: the fix sends them again with `resolves`
    const settled = Object.keys(names(Object.fromEntries((item.resolves ?? []).map((f) => [f, true]))));
    await db.put('drafts', {
      ...item, form_version: def?.version ?? item.form_version, base, settled,
      data: item.record_id ? applied(base, names(item.data)) : names(item.data), fixing: true,
      reused: item.errors?.some((e) => e.code === 'id_reused'), updated_at: new Date().toISOString(),
    });
  }
  go(`#/draft/${id}`);
}

// Editing a case: parents = the heads the phone has (kept up to date by each accepted push),
// or its own latest unsent edit of it; never an edit the server refused, which it will never
// have (an edit built on it would wait `pending` for ever), nor one held behind such an edit.
async function editRecord(recordId) {
  const open = (await db.all('drafts')).find((d) => d.record_id === recordId && !d.fixing);
  if (open) return go(`#/draft/${open.id}`);
  const rec = await db.get('records', recordId);
  const def = rec && (await currentDef(rec.form_id));
  if (!def) return go('#/cases');
  const mine = (await db.all('outbox'))
    .filter((i) => i.record_id === recordId && i.status !== 'rejected' && i.status !== 'held')
    .sort((a, b) => (a.id < b.id ? 1 : -1))[0];
  // the case, and an unsent edit made on an older version, under this version's names
  const names = (data) => underNames(data, def.renames);
  const base = mine ? applied(names(mine.base ?? rec.data), names(mine.data)) : names(rec.data);
  const id = uuid7();
  await db.put('drafts', {
    id, form_id: rec.form_id, form_version: def.version, record_id: recordId,
    parents: mine ? [mine.id] : rec.heads, base, data: base, updated_at: new Date().toISOString(),
  });
  go(`#/draft/${id}`);
}

// Rejected edits of a case, and those held behind one: the officer is told they are not
// recorded and where to see to them.
async function refusedEdits(recordId) {
  const mine = (await db.all('outbox')).filter((i) => i.record_id === recordId);
  const key = mine.some((i) => i.status === 'rejected') ? 'edit_rejected' : mine.some((i) => i.status === 'held') ? 'edit_held' : null;
  return key ? h('p', { class: 'notice', id: 'edit-refused' }, t(key), ' ', link('#/outbox', t('outbox'), 'link')) : null;
}

// Labels of choices every version offered: {field: {value: label}}, the fields under the
// names of `def` (default: the newest version held) where a later version renamed them, a
// repeat group's sub-fields as `group.field` (validate.js `within` reads them by group).
async function oldLabels(formId, def) {
  def ??= await latestDef(formId);
  const renames = def?.renames ?? {};
  const out = Object.create(null); // no inherited keys: a field or choice named `constructor`
  const walk = (fields, group) => fields.forEach((f) => {
    const key = group ? `${group}.${f.name}` : f.name;
    const name = Object.hasOwn(renames, key) ? renames[key] : f.name;
    const path = group ? `${group}.${name}` : name;
    for (const c of f.choices ?? []) (out[path] ??= Object.create(null))[c.value] ??= c.label;
    if (f.fields) walk(f.fields, path);
  });
  (await db.all('forms')).filter((d) => d.form_id === formId).sort((a, b) => b.version - a.version)
    .forEach((d) => walk(d.fields, ''));
  return out;
}

async function formView(id) {
  const stored = await db.get('drafts', id);
  const d = stored ?? (await drafts.recover(id)); // gone while a tab typed in it
  if (!d) return go('#/');
  const def = await db.get('forms', [d.form_id, d.form_version]);
  const latest = await latestDef(d.form_id);
  if (!def) return page('', h('p', { class: 'err' }, t('e_unknown_field')));
  // Typed just before a reload: the crash buffer is newer than the stored draft.
  const typed = drafts.buffered(id);
  if (typed && typed.at > Date.parse(d.updated_at ?? 0)) Object.assign(d, { data: typed.data, settled: typed.draft?.settled ?? d.settled, fresh: false, updated_at: new Date(typed.at).toISOString() });
  const moved = await drafts.keep(d, typed?.at ?? 0, typed?.opened); // saved meanwhile in another tab?
  const rec = d.record_id ? recordUnder(await db.get('records', d.record_id), def) : null;
  // settled only with every value in view: not a conflict the phone has half of (edit.js)
  const conflicts = Object.fromEntries((rec?.conflicts ?? []).filter((c) => !c.partial).map((c) => [c.field, c.values]));
  const labels = await oldLabels(d.form_id, def);
  // conflicts on fields this version removed: settled here too, as an earlier version had them
  const retired = (await Promise.all(Object.keys(conflicts).filter((n) => !def.fields.some((f) => f.name === n))
    .map(async (n) => ({ n, f: await knownField(def, n) })))).filter(({ f }) => f).map(({ n, f }) => ({ ...f, name: n }));
  const form = renderForm(def, d.data, {
    fresh: d.fresh, conflicts, settled: d.settled, device: await db.kv('device_id'), oldLabels: labels, retired,
  });
  // what this tab's form opened with (before a reload, what it opened with then): drafts.onto
  const opened = typed?.opened ?? form.data();
  // whose form this is (drafts.HandedOver): the phone's owner, the same across a new token or
  // a new account of the same officer, another once the phone is handed over
  const owner = await drafts.phoneOwner();
  const by = drafts.owner(); // ...and whose typing its crash buffer holds
  const copy = await caseCopy(d.form_id, d.fixing ? d.id : null); // read before Save is tapped
  // The phone handed over to another officer in another tab: this form goes with the drafts.
  const handedOver = () => {
    closed = true;
    leave = null;
    drafts.unbuffer(d.id);
    say(t('handed_over'));
    go('#/');
  };
  const note = h('p', { class: 'hint', id: 'draft-note', 'aria-live': 'polite' });
  const movedNote = h('div', { id: 'draft-moved' });
  const showMoved = () => movedNote.replaceChildren(h('p', { class: 'notice' }, t('moved')));
  if (moved || d.after) showMoved(); // an update of a save made elsewhere, however it got here
  const problems = h('p', { class: 'err', id: 'form-errors', role: 'alert', hidden: true });
  const state = { attempted: false, touched: new Set() };
  const { touched } = state;
  let timer = null;
  let closed = false; // saved to the outbox: nothing here is kept as a draft again
  let waiting = 0; // since when an autosave is due: typing with no pause still saves every 2 s

  // An edit sends only what changed against the data the form opened with, and the fields in
  // conflict the officer settles, with the value chosen even if unchanged (`resolves`).
  const settling = () => (d.record_id ? form.settled().filter((f) => Object.hasOwn(conflicts, f)) : []);
  const outgoing = (data) => {
    if (!d.record_id) return data;
    // (a value chosen for a removed field in conflict is a change too, as for a live one)
    const out = changes([...def.fields, ...form.retired], data, d.base ?? {});
    for (const f of settling()) out[f] = data[f] ?? null;
    return out;
  };
  const save = async () => {
    clearTimeout(timer);
    waiting = 0;
    if (closed) return;
    const readAt = Date.now();
    d.data = form.data(true);
    d.settled = settling();
    d.fresh = false;
    d.updated_at = new Date().toISOString();
    const moved = await drafts.keep(d, readAt, opened, owner).catch((e) => {
      if (db.isStorageError(e)) {
        // (the typing stays in the crash buffer; the notice above says what to do)
        note.replaceChildren(t('draft_unsaved'));
        return null;
      }
      if (!(e instanceof drafts.HandedOver)) throw e;
      handedOver();
      return null;
    });
    if (moved === null) return;
    if (moved) {
      // saved meanwhile in another tab: shown again as it now is (that save, with what was
      // changed here), unless the officer is leaving the form
      closed = true;
      leave = null;
      const here = `#/draft/${d.id}`;
      route(() => location.hash === here && !leave);
      return;
    }
    // (a polite live region: said when the minute changes, not after every pause in typing)
    reword(note, t('draft_saved', { t: timeText(d.updated_at).slice(0, 5) }));
  };
  const check = (scroll = false) => {
    // `q#`: the count of a repeat group (an item added or removed), not the fields inside it
    const under = (p, q) => (q.endsWith('#') ? p === q.slice(0, -1) : p === q || p.startsWith(`${q}.`) || p.startsWith(`${q}[`));
    const data = form.data();
    const sent = outgoing(data);
    // Fields an edit leaves as they were are not sent, so not checked (a value of an earlier
    // version stays as it is).
    const errs = validate(def.fields, data, labels).filter((e) => !d.record_id || e.path.match(/^[^.[]+/)[0] in sent);
    const visible = state.attempted ? errs : errs.filter((e) => [...touched].some((q) => under(e.path, q)));
    form.showErrors(visible, scroll);
    problems.hidden = !state.attempted || !errs.length;
    reword(problems, t('fix_errors', { n: errs.length })); // said when it changes only
    return errs;
  };
  form.el.addEventListener('input', () => {
    if (closed) return;
    drafts.buffer(d, form.data(true), opened, by);
    clearTimeout(timer);
    waiting ||= Date.now();
    timer = setTimeout(save, Date.now() - waiting > 2000 ? 0 : 400);
    if (state.attempted) check();
  });
  // A repeat item removed: the marks of the items after it move up with them (the errors
  // shown follow the item, not its number), and its own go.
  form.el.addEventListener('itemremoved', (e) => {
    const prefix = `${e.detail.path}[`;
    const moved = [...touched].flatMap((q) => {
      const m = q.startsWith(prefix) ? /^(\d+)\](.*)$/s.exec(q.slice(prefix.length)) : null;
      if (!m) return [q];
      const n = Number(m[1]);
      if (n === e.detail.index) return [];
      return [n > e.detail.index ? `${prefix}${n - 1}]${m[2]}` : q];
    });
    touched.clear();
    moved.forEach((q) => touched.add(q));
  });
  form.el.addEventListener('change', (e) => {
    const p = e.target.closest?.('[data-path]')?.dataset.path;
    // An item just added is empty, not wrong: its fields show errors once touched, or on saving.
    if (p) touched.add(e.target.classList?.contains('items') ? `${p}#` : p);
    if (closed) return;
    d.settled = settling(); // in the crash buffer too: a reload right after the tick keeps it
    drafts.buffer(d, form.data(true), opened, by);
    save();
    afterTap(check);
  });
  // Leaving the form keeps the draft, unless nothing was entered (or, for an edit, changed).
  const leaveForm = async (going = true) => {
    await save();
    if (!going || d.fixing) return;
    const data = form.data();
    if (d.record_id ? !Object.keys(outgoing(data)).length : blank(data)) {
      drafts.unbuffer(d.id); // first: a buffer left by a reload here would bring the draft back
      await db.del('drafts', d.id);
    }
  };
  leave = leaveForm;

  // Once: a second tap, the field's `change` as the form goes, or a reload (`pagehide`) while
  // the draft is saved would otherwise keep it again as an update of its own save.
  const finish = async () => {
    if (closed) return;
    state.attempted = true;
    if (check(true).length) return;
    clearTimeout(timer);
    closed = true;
    leave = null;
    const here = location.hash;
    d.data = form.data();
    const resolves = settling();
    const item = await drafts.submit(d, (d) => {
      const data = outgoing(d.data);
      if (d.record_id && !Object.keys(data).length) return null;
      return {
        ...(resolves.length && { resolves }),
        // A fresh id for every save; a fixed item keeps its own (never stored) unless refused.
        id: d.fixing && !d.reused ? d.id : uuid7(), form_id: d.form_id, form_version: d.form_version,
        record_id: d.record_id ?? null, parents: d.parents ?? [], captured_at: nowRfc3339(),
        data, ...(d.record_id && { base: d.base ?? {} }), status: 'queued', saved_at: new Date().toISOString(),
      };
    }, opened, owner, copy).catch((e) => {
      if (!(e instanceof drafts.HandedOver)) {
        closed = false; // not saved: the form is the draft's again
        leave = leaveForm;
        if (!db.isStorageError(e)) throw e;
        problems.hidden = false;
        problems.replaceChildren(t('save_failed'));
        return false;
      }
      handedOver();
      return false;
    });
    if (item === false) return;
    say(t(item ? 'saved' : 'no_changes'));
    if (item) flash.item = item.id; // "sent" once a sync has taken it (sentFlash)
    // to the case (or the forms) from the form; an officer who has moved on while it was
    // written stays where she is, told there
    if (location.hash === here) go(d.record_id ? `#/case/${d.record_id}` : '#/');
    else {
      flash.at = location.hash;
      route(listed);
    }
    if (item && navigator.onLine) sync.syncNow();
  };

  const discard = async () => {
    if (!confirm(ask('confirm_delete'))) return;
    closed = true;
    drafts.unbuffer(d.id);
    await db.del('drafts', d.id);
    leave = null;
    go(d.fixing ? '#/outbox' : '#/');
  };

  page('',
    h('h2', { id: 'form-title' }, L(def.title)),
    h('p', { class: 'hint' }, t('version', { v: def.version })),
    latest && latest.version > def.version ? h('p', { class: 'notice' }, t('old_version', { v: def.version })) : null,
    d.fixing ? h('p', { class: 'notice' }, t('rejected_note')) : null,
    !d.fixing && d.record_id ? await refusedEdits(d.record_id) : null,
    movedNote,
    h('form', { id: 'entry', novalidate: true, onsubmit: (e) => { e.preventDefault(); finish(); } },
      form.el, problems,
      h('button', { type: 'submit', id: 'save-btn', class: 'big' }, '✓ ', t('save')),
      note,
      h('button', { type: 'button', class: 'link danger', onclick: discard }, t('delete_draft'))));
  if (d.errors?.length) form.showErrors(d.errors, true);
  if (state.attempted || touched.size) check();
}

async function outboxView() {
  const items = (await db.all('outbox')).sort((a, b) => (a.id < b.id ? -1 : 1));
  const manifest = (await db.kv('manifest')) ?? [];
  const title = (id) => {
    const f = manifest.find((m) => m.form_id === id);
    return f ? L(f.title) : id;
  };
  const defs = {};
  const versions = new Map(); // one read a form version, not one an entry (3,000 entries: 20 s)
  for (const i of items) {
    const key = `${i.form_id}@${i.form_version}`;
    if (!versions.has(key)) versions.set(key, await db.get('forms', [i.form_id, i.form_version]));
    defs[i.id] = versions.get(key);
  }
  // which entry is which: what it holds (an edit, what it changes), and the case it is of
  const cases = new Set((await db.all('records')).map((r) => r.record_id));
  const about = (i) => {
    const rid = i.record_id ?? i.id;
    const text = summary(defs[i.id], i.data, 3);
    return [
      text.length ? h('div', { class: 'hint summary' }, text) : null,
      cases.has(rid) ? link(`#/case/${rid}`, t('open_case'), 'link') : null,
    ];
  };
  // Unsent entries in a store the browser may clear when the phone is short of space: said
  // where they are listed (a browser that cannot tell is taken at its word that it keeps them)
  const kept = !items.length || ((await navigator.storage?.persisted?.().catch(() => true)) ?? true);
  page('#/outbox',
    h('h2', {}, th('outbox')),
    kept ? null : h('p', { class: 'hint', id: 'not-persisted' }, t('not_persisted')),
    items.length ? h('ul', { class: 'list', id: 'outbox-list' }, items.map((i) =>
      h('li', { class: `item ${i.status}`, 'data-id': i.id },
        h('strong', {}, title(i.form_id)),
        h('small', {}, ` · ${timeText(i.saved_at)} · `, h('span', { class: 'badge' }, t(`st_${i.status}`))),
        about(i),
        i.status === 'rejected' ? [
          h('ul', { class: 'err' }, i.errors.map((e) => h('li', {}, describeError(defs[i.id], e)))),
          h('div', { class: 'row' }, link(`#/fix/${i.id}`, ['✎ ', t('fix')]),
            h('button', { type: 'button', class: 'secondary discard', onclick: () => discardItem(i, items) }, t('discard'))),
        ] : i.status === 'held' ? h('p', { class: 'hint held-note' }, t('held_note')) : null))) : h('p', {}, t('outbox_empty')),
    h('button', { type: 'button', id: 'export-btn', class: 'secondary', onclick: exportOutbox }, t('export')));
}

// A new case of a follow-up form is the phone's to see and edit before it is sent (edit.js,
// localCase); a fix sent under a new id takes the place of the refused one's. `caseCopy(form
// id, was)`: what writes it into `records` for an item of that form, in the transaction that
// saves the item (drafts.submit). `was`: the id a fixed entry had, whose copy goes.
async function caseCopy(formId, was) {
  const follow = ((await db.kv('manifest')) ?? []).find((f) => f.form_id === formId)?.sync_to_devices;
  const area = (await db.kv('me'))?.area ?? '';
  return (records, item) => {
    if (item.record_id) return;
    if (was && was !== item.id) records.delete(was);
    if (follow) records.put(localCase(item, area));
  };
}

// A rejected item the officer gives up (sent twice by mistake, say): gone only when confirmed.
// The edits held behind it are not: they go again without it, under new ids, as the
// confirmation says.
const discarding = new Set(); // the outbox items being discarded now
async function discardItem(gone, shown) {
  const { id } = gone;
  if (discarding.has(id)) return; // Discard tapped again while it runs
  const held = (box) => box.filter((i) => i.status === 'held');
  const n = rebased(gone, held(shown), null, () => '').length; // as the list shows them
  if (!confirm(n ? ask(gone.record_id ? 'confirm_discard_held' : 'confirm_discard_held_new', { n }) : ask('confirm_discard'))) return;
  discarding.add(id);
  let next;
  try {
    const rec = gone.record_id ? await db.get('records', gone.record_id) : null;
    next = rebased(gone, held(await db.all('outbox')), rec, uuid7);
    const copy = await caseCopy(gone.form_id, null);
    // The held items go again under new ids: once only, so only while the item discarded is
    // still there, read in the transaction that removes it (another tab may have discarded it).
    const done = await db.tx(['outbox', 'drafts', 'records'], (st, out) => {
      const there = st('outbox').get(id);
      there.onsuccess = () => {
        // as shown: not discarded meanwhile, nor fixed (the same id, saved again, queued)
        const now = there.result;
        if (now?.status !== 'rejected' || now.saved_at !== gone.saved_at) return;
        out.discarded = true;
        st('outbox').delete(id);
        st('drafts').delete(id); // its fix, if one was started
        if (!gone.record_id) st('records').delete(id); // a case it made, never sent: gone with it
        for (const [old, item] of next) {
          st('outbox').delete(old);
          st('outbox').put(item);
          copy(st('records'), item); // the first of them, when it now makes the case
        }
      };
    });
    if (!done.discarded) {
      say(t('discard_stale'), location.hash); // and the outbox as it now is
      route(listed);
      return;
    }
    drafts.unbuffer(id);
  } finally {
    discarding.delete(id);
  }
  say(next.length ? t('discarded_held', { n: next.length }) : t('discarded'), location.hash);
  route(listed);
  if (next.length && navigator.onLine) sync.syncNow();
}

// No data is ever trapped in a broken browser: the outbox (a valid push body) and the drafts.
// The file first, what it costs to remember it after: on a phone whose storage is full that
// write fails, and the file is what the officer has then. The drafts as last typed (a crash
// buffer newer than its draft, one whose draft could not be kept) go with it.
async function exportOutbox() {
  const items = await db.all('outbox');
  const stored = await db.all('drafts').catch(() => []);
  const unkept = drafts.orphans(stored.map((d) => d.id)).map((id) => {
    const b = drafts.buffered(id);
    return b?.draft && { ...b.draft, id, data: b.data, updated_at: new Date(b.at).toISOString() };
  });
  const body = {
    device_id: await db.kv('device_id'),
    submissions: items.map(sync.toWire),
    exported_at: new Date().toISOString(),
    rejected: Object.fromEntries(items.filter((i) => i.status === 'rejected').map((i) => [i.id, i.errors])),
    held: items.filter((i) => i.status === 'held').map((i) => i.id), // waiting behind a rejected one
    drafts: [...stored.map(asTyped), ...unkept.filter(Boolean)],
  };
  const url = URL.createObjectURL(new Blob([JSON.stringify(body, null, 1)], { type: 'application/json' }));
  const now = new Date(); // the phone's own day and time, as the outbox screen shows them
  const stamp = [now.getFullYear(), now.getMonth() + 1, now.getDate(), now.getHours(), now.getMinutes()]
    .map((n, i) => String(n).padStart(i ? 2 : 4, '0')).join('');
  const a = h('a', { href: url, download: `coso-outbox-${stamp}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  // What the file holds may leave the phone when another officer takes it over.
  await db.setKv('exported', Object.fromEntries(items.map((i) => [i.id, i.saved_at]))).catch(() => {});
}

async function casesView() {
  const records = (await db.all('records')).sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
  const defs = {};
  const old = {};
  for (const r of records) {
    defs[r.form_id] ??= await currentDef(r.form_id);
    old[r.form_id] ??= await oldLabels(r.form_id, defs[r.form_id]);
  }
  // each case's data under the names of its form now, for its card and for the search
  const now = new Map(records.map((r) => [r.record_id, recordUnder(r, defs[r.form_id]).data ?? {}]));
  // Hundreds of cases: a search over everything each holds (the parties' names in its repeat
  // groups too), as stored (codes, 2025-08-15) and as the card and the case show it (choices
  // by their labels, dates as 15/08/2025), without diacritics ("nguyen van an" finds "Nguyễn
  // Văn An"), kept while the list is redrawn after a sync.
  const shown = (def, data, old) => (def?.fields ?? []).map((f) => h('span', {}, formatValue(f, data[f.name], old)).textContent);
  const hay = new Map(records.map((r) => {
    const def = defs[r.form_id];
    return [r.record_id, fold([text(Lp(def?.title)), ...texts(r.data), ...shown(def, now.get(r.record_id), old[r.form_id])].join(' '))];
  }));
  const none = h('p', { id: 'no-match', role: 'status', hidden: true }, t('no_match'));
  const filter = (list) => {
    const words = fold(caseQuery).split(/\s+/).filter(Boolean);
    let visible = 0;
    for (const li of list.children) {
      li.hidden = !words.every((w) => hay.get(li.dataset.id).includes(w));
      visible += li.hidden ? 0 : 1;
    }
    none.hidden = visible > 0;
  };
  const list = records.length ? h('ul', { class: 'list', id: 'case-list' }, records.map((r) =>
    h('li', { 'data-id': r.record_id }, h('a', { href: `#/case/${r.record_id}`, class: 'btn secondary case', 'data-id': r.record_id },
        h('strong', {}, defs[r.form_id] ? L(defs[r.form_id].title) : r.form_id,
          r.conflicts.length ? [' ', h('span', { class: 'badge bad' }, t('conflict_badge'))] : null),
        h('small', {}, summary(defs[r.form_id], now.get(r.record_id), 3, old[r.form_id])))))) : null;
  const search = records.length > 1 ? h('input', {
    type: 'search', id: 'case-search', value: caseQuery, autocomplete: 'off', enterKeyHint: 'search',
    placeholder: text(pair('search_cases')), 'aria-label': text(pair('search_cases')),
    oninput: (e) => { caseQuery = e.target.value; refilter(); },
  }) : null;
  if (list) filter(list);
  refilter = () => list && filter(list); // the list shown now, also to a box kept below
  // A sync that lands while the officer types a search draws the list again, and only the
  // list: the box she types in stays, whose keyboard may be composing a word (Telex "Nguyeen"
  // becoming "Nguyễn"): a new box lost the word half-made ("NguyêNguyễn").
  const typing = document.activeElement?.id === 'case-search' ? document.activeElement : null;
  const shownList = document.getElementById('case-list');
  if (typing && search && list && shownList && location.hash === '#/cases') {
    shownList.replaceWith(list);
    document.getElementById('no-match')?.replaceWith(none);
    const said = flash && !flash.shown ? flashed() : null; // what page() would say above the list
    if (said) {
      const before = main.querySelector('.flash');
      if (before) before.replaceWith(said);
      else main.querySelector('nav.tabs')?.after(said);
    }
    renderStatus();
    return;
  }
  page('#/cases', h('h2', {}, th('cases')), search, list ?? h('p', {}, t('no_cases')), none);
}

// Every text a case holds, values of repeat items and choices' codes too, for the search.
const texts = (v) => (v == null ? [] : typeof v === 'object' ? Object.values(v).flatMap(texts) : [String(v)]);
// Text as the search compares it: no diacritics (đ as d), one case, NFC first.
const fold = (s) => s.normalize('NFD').replace(/\p{M}/gu, '').replace(/[đĐ]/g, 'd').toLowerCase();

async function caseView(recordId) {
  const stored = await db.get('records', recordId);
  const me = await db.kv('device_id');
  if (!stored) return go('#/cases');
  const def = await currentDef(stored.form_id);
  const r = recordUnder(stored, def); // a case pulled before a rename, under the names now
  const unsent = (await db.all('outbox')).some((i) => i.record_id === recordId || i.id === recordId);
  const fields = Object.fromEntries(await Promise.all(r.conflicts.map(async (c) => [c.field, await knownField(def, c.field)])));
  const field = (name) => fields[name];
  const old = await oldLabels(r.form_id, def); // choices a later version dropped, by their label
  page('#/cases',
    h('h2', {}, def ? L(def.title) : r.form_id),
    h('p', { class: 'hint' }, t('updated', { t: timeText(r.updated_at) }), unsent ? [' · ', t('unsent')] : null),
    await refusedEdits(recordId),
    r.conflicts.length ? h('section', { class: 'conflicts', id: 'conflicts' },
      h('h3', {}, '⚠ ', th('conflicts')),
      r.conflicts.map((c) => h('div', { class: 'conflict', 'data-field': c.field },
        h('strong', {}, field(c.field) ? L(field(c.field).label) : c.field),
        h('ul', {}, c.values.map((v) => h('li', {}, formatValue(field(c.field), v.value, old),
          h('small', {}, ' — ', deviceText(v.device_id, me), `, ${timeText(v.captured_at)}`))),
          c.partial ? h('li', { class: 'hint' }, t('conflict_unseen')) : null)))) : null,
    def ? renderData(def, r.data, old) : null,
    def ? await removedData(def, r.data, old) : null,
    link(`#/edit/${recordId}`, ['✎ ', t('edit')], 'btn big'));
}

// What a case holds in fields a later version removed: kept, and shown after the others by
// the label of the version that had them, "(từ phiên bản trước / from an earlier version)".
async function removedData(def, data, old) {
  const names = Object.keys(data).filter((k) => data[k] != null && !def.fields.some((f) => f.name === k));
  const found = await Promise.all(names.map(async (n) => [n, await knownField(def, n)]));
  const fields = found.filter(([, f]) => f).map(([n, f]) => ({ ...f, name: n }));
  if (!fields.length) return null;
  const earlier = { ...def, fields };
  const kept = Object.fromEntries(fields.map((f) => [f.name, data[f.name]]));
  return h('section', { id: 'removed-fields' }, h('h3', {}, th('old_choice')), renderData(earlier, kept, old));
}

// --- routing ---------------------------------------------------------------------------

// One screen is drawn at a time. A view awaits the store, so two drawings at once could end
// in the wrong order: a sync landing on a case began to draw it again, the officer's tap on
// Cases drew the list, and the case, finished last, covered the list she was reading. A call
// while one draws waits for its turn, then draws the screen of that moment; calls that wait
// together are one drawing. `wanted`, asked at its turn, says whether the screen of that
// moment is still to be drawn: a redraw asked for the screen she was on is not one of a form
// she has opened since (`listed`), which would be closed under her and, blank, deleted.
// Moving to a screen (the hash changed) draws it, unless it was drawn since.
let drawing = Promise.resolve();
let waiting = null; // the drawing whose turn has not come: {wanted, done}
function route(wanted = () => true) {
  if (waiting) {
    const before = waiting.wanted;
    waiting.wanted = () => before() || wanted();
    return waiting.done;
  }
  const next = { wanted };
  next.done = drawing.then(() => {
    waiting = null;
    return next.wanted() ? draw() : undefined;
  });
  waiting = next;
  drawing = next.done.catch(() => {});
  return next.done;
}
// The screen now is a list or a case, drawn again when what it shows changed (a sync landed,
// an item was discarded): never an open form, nor one whose drawing has begun.
const listed = () => !leave && !/^#\/(new|fix|edit|draft)\b/.test(location.hash);

async function draw() {
  if (leave) await leave().catch(() => {});
  leave = null;
  if (takeToken()) return;
  const token = await db.kv('token').catch((e) => e);
  if (token instanceof Error) return main.replaceChildren(); // the notice above says why
  if (!token) return setupView();
  const [, name, arg] = location.hash.match(/^#\/(\w+)\/?(.*)$/) ?? [];
  const views = { new: newDraft, draft: formView, fix: fixItem, outbox: outboxView, cases: casesView, case: caseView, edit: editRecord };
  // what had the focus in the screen drawn anew (a sync landing), found again after it
  const was = main.contains(document.activeElement) ? document.activeElement : null;
  const again = was?.id ? `#${CSS.escape(was.id)}` : was?.getAttribute('href') ? `[href="${CSS.escape(was.getAttribute('href'))}"]` : null;
  const first = drawn === null; // the app opening: nobody has touched it yet
  const moved = location.hash !== drawn;
  drawn = location.hash;
  await (views[name] ?? homeView)(decodeURIComponent(arg ?? ''));
  // a new screen from its top; the same one drawn anew (a sync landing) where it was read
  if (moved) window.scrollTo(0, 0);
  // A screen reader or a keyboard is never left on the page's body: on a new screen its
  // heading takes the focus (and the tab's title says which screen it is); on the same screen
  // drawn anew, the control that had it, if it is still there.
  const heading = main.querySelector('h2');
  const en = heading?.querySelector('[lang="en"]');
  const vi = en ? heading.textContent.replace(en.textContent, '').trim() : heading?.textContent;
  document.title = heading ? `${en ? `${vi} / ${en.textContent.trim()}` : vi} — coso` : TITLE;
  if (document.activeElement && document.activeElement !== document.body) return;
  const back = !moved && again && main.querySelector(again);
  if (back) back.focus({ preventScroll: true });
  else if (moved && heading && !first) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}
const TITLE = document.title;
let drawn = null; // the screen (hash) drawn last

async function boot() {
  addEventListener('hashchange', () => {
    if (flash?.shown) flash = null; // the officer moved on from the screen that said it
    // Not a screen drawn since: a drawing begun before a tap reads the address late and draws
    // the screen tapped (and a form's screen the one it goes on to); the address changes on
    // the way, each asking for a drawing, drew it again, closing a form just opened.
    return route(() => location.hash !== drawn);
  });
  addEventListener('online', () => {
    renderStatus(); // "offline" goes at once, even while a sync started before runs on
    return pending ? doSetup(pending) : sync.online();
  });
  addEventListener('offline', renderStatus);
  addEventListener('pagehide', () => leave?.(false));
  sync.onStatus(() => {
    renderStatus();
    if (!sync.status.running) showUser(); // a sync may have finished an interrupted setup
    // Finished syncs, counted for anyone watching (the browser tests).
    if (!sync.status.running) document.body.dataset.syncs = Number(document.body.dataset.syncs ?? 0) + 1;
    // Lists refresh when a sync lands; an open form is never redrawn under the officer.
    if (!sync.status.running) sentFlash().finally(() => route(listed));
  });
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
  // Asked at every start until the browser grants it (Chrome does for an app on the home
  // screen): a store that may be evicted when the phone is short of space holds the outbox.
  navigator.storage?.persisted?.().then((yes) => yes || navigator.storage.persist()).catch(() => {});
  if (takeToken()) return;
  await showUser().catch(() => {});
  await route();
  if ((await db.kv('token').catch(() => null)) && navigator.onLine) sync.syncNow();
}

boot();
