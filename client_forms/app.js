// The officer's app: setup from the link, screens (forms, drafts, outbox, cases), the sync
// status bar. Routes live in the URL fragment: #/, #/new/FORM, #/draft/ID, #/outbox,
// #/fix/ID, #/cases, #/case/ID, #/edit/ID. A setup link's #token=… (opened in a new tab or
// in this one) is read and wiped at once.
import * as db from './db.js';
import { L, lang, setLang, t, timeText } from './i18n.js';
import { describeError, deviceText, formatValue, h, nowRfc3339, renderData, renderForm } from './render.js';
import * as sync from './sync.js';
import { uuid7 } from './uuid7.js';
import { validate } from './validate.js';

const main = document.getElementById('main');
const bar = document.getElementById('status');
let leave = null; // flushes the open form's draft before the screen changes
let flash = '';
let shown = null; // the open form's {id, attempted, touched}: its errors outlive a language switch
let keep = null; // `shown`, handed to the same form drawn again in the other language
let pending = null; // a setup token that met no network, tried again when the network returns

const go = (hash) => location.replace(hash);
const link = (href, text, cls = 'btn') => h('a', { href, class: cls }, text);

async function latestDef(formId) {
  const mine = (await db.all('forms')).filter((d) => d.form_id === formId);
  return mine.sort((a, b) => b.version - a.version)[0];
}

// --- status bar ------------------------------------------------------------------------

async function renderStatus() {
  if (!(await db.kv('token'))) {
    bar.replaceChildren();
    return;
  }
  const box = await db.all('outbox');
  const rejected = box.filter((i) => i.status === 'rejected').length;
  const last = await db.kv('last_sync');
  const s = sync.status;
  const err = s.error;
  const lines = [
    h('span', { id: 'st-waiting' }, t('waiting', { n: box.length - rejected })),
    rejected ? h('span', { id: 'st-rejected', class: 'bad' }, t('rejected_n', { n: rejected })) : null,
    h('span', { id: 'st-last' }, t('last_sync', { t: last ? timeText(last) : t('never') })),
    navigator.onLine ? null : h('span', { class: 'bad' }, t('offline')),
    err ? h('span', { id: 'st-error', class: 'bad' },
      err.kind === 'network' ? t('err_network') : err.kind === 'auth' ? t('err_auth') : t('err_server', { m: err.message })) : null,
    s.nextRetry ? h('span', {}, t('retry_at', { t: timeText(new Date(s.nextRetry).toISOString()).slice(0, 5) })) : null,
    s.lastResult ? h('span', { id: 'st-result' }, t('last_result', {
      r: Object.entries(s.lastResult).map(([k, n]) => `${n} ${t(`st_${k}`)}`).join(', '),
    })) : null,
  ];
  bar.replaceChildren(
    h('div', { class: 'st-text', role: 'status' }, lines),
    h('button', { id: 'sync-btn', type: 'button', disabled: s.running, onclick: () => sync.online() },
      s.running ? t('syncing') : `⟳ ${t('sync')}`),
  );
  const tab = document.querySelector('a[href="#/outbox"] .count');
  if (tab) tab.textContent = box.length ? `(${box.length})` : '';
}

function nav(current) {
  const tab = (href, key) => h('a', { href, class: `tab${current === href ? ' on' : ''}` }, t(key),
    key === 'outbox' ? h('span', { class: 'count' }) : null);
  return h('nav', { class: 'tabs' }, tab('#/', 'forms'), tab('#/outbox', 'outbox'), tab('#/cases', 'tab_cases'));
}

function page(current, ...kids) {
  const flashEl = flash ? h('p', { class: 'flash', role: 'status' }, flash) : null;
  main.replaceChildren(...[nav(current), flashEl, ...kids].flat().filter((k) => k != null && k !== false));
  flash = '';
  renderStatus();
}

// --- screens ---------------------------------------------------------------------------

async function setupView(problem = '', token = '') {
  const input = h('input', { id: 'setup-token', type: 'text', autocomplete: 'off', placeholder: t('setup_input'), value: token });
  main.replaceChildren(h('section', { class: 'card' },
    h('h2', {}, t('setup_title')),
    h('p', {}, t('setup_text')),
    h('label', { for: 'setup-token' }, t('setup_input')), input,
    problem ? h('p', { class: 'err' }, problem) : null,
    h('button', { type: 'button', onclick: () => {
      const v = input.value.trim();
      doSetup(decodeURIComponent(v.match(/token=([^&\s]+)/)?.[1] ?? v));
    } }, t('setup_btn'))));
  bar.replaceChildren();
}

// Nothing is kept unless the setup succeeds; a phone already set up carries on as it was.
async function doSetup(token) {
  pending = null;
  try {
    await sync.setup(token);
  } catch (e) {
    const problem = {
      auth: () => t('setup_bad'),
      network: () => t('setup_offline'),
      other_user: () => t('setup_other_user', { n: e.unsent, old: e.before.name, new: e.me.name }),
    }[e.kind]?.() ?? t('err_server', { m: e.message });
    if (!(await db.kv('token'))) {
      if (e.kind === 'network') pending = token;
      return setupView(problem, pending ?? '');
    }
    flash = problem;
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
  const token = /^#token=([^&]+)/.exec(location.hash)?.[1];
  if (!token) return false;
  history.replaceState(null, '', location.pathname + location.search);
  doSetup(decodeURIComponent(token));
  return true;
}

async function showUser() {
  const me = await db.kv('me');
  document.getElementById('who').textContent = me ? `${me.name} · ${me.area_name || me.area}` : '';
}

async function homeView() {
  const manifest = (await db.kv('manifest')) ?? [];
  const drafts = (await db.all('drafts')).sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
  const titles = Object.fromEntries(manifest.map((f) => [f.form_id, f.title]));
  page('#/',
    h('section', {},
      h('h2', {}, t('forms')),
      manifest.length
        ? h('ul', { class: 'list', id: 'form-list' }, manifest.map((f) =>
          h('li', {}, link(`#/new/${f.form_id}`, L(f.title), 'btn big'))))
        : h('p', {}, t('no_forms'))),
    drafts.length ? h('section', {},
      h('h2', {}, t('drafts')),
      h('ul', { class: 'list', id: 'draft-list' }, drafts.map((d) =>
        h('li', {}, link(`#/draft/${d.id}`, [L(titles[d.form_id]) || d.form_id,
          h('small', {}, ` · ${timeText(d.updated_at)}`)], 'btn secondary'))))) : null);
}

async function newDraft(formId) {
  const manifest = (await db.kv('manifest')) ?? [];
  const f = manifest.find((x) => x.form_id === formId);
  const def = f && (await db.get('forms', [f.form_id, f.version]));
  if (!def) return go('#/');
  const id = uuid7();
  await db.put('drafts', { id, form_id: formId, form_version: def.version, data: {}, fresh: true, updated_at: new Date().toISOString() });
  go(`#/draft/${id}`);
}

// A rejected outbox item opens as a draft with the same id (it was never stored).
async function fixItem(id) {
  if (!(await db.get('drafts', id))) {
    const item = await db.get('outbox', id);
    if (!item) return go('#/outbox');
    await db.put('drafts', { ...item, fixing: true, updated_at: new Date().toISOString() });
  }
  go(`#/draft/${id}`);
}

// Editing a case: parents = the heads the phone has (or its own unsent edit of it).
async function editRecord(recordId) {
  const open = (await db.all('drafts')).find((d) => d.record_id === recordId);
  if (open) return go(`#/draft/${open.id}`);
  const rec = await db.get('records', recordId);
  const def = rec && (await latestDef(rec.form_id));
  if (!def) return go('#/cases');
  const mine = (await db.all('outbox')).filter((i) => i.record_id === recordId || i.id === recordId).sort((a, b) => (a.id < b.id ? 1 : -1))[0];
  const base = mine && mine.id !== recordId ? mine.data : rec.data;
  const id = uuid7();
  await db.put('drafts', {
    id, form_id: rec.form_id, form_version: def.version, record_id: recordId,
    parents: mine && mine.id !== recordId ? [mine.id] : rec.heads, base, data: base,
    updated_at: new Date().toISOString(),
  });
  go(`#/draft/${id}`);
}

async function formView(id) {
  const d = await db.get('drafts', id);
  if (!d) return go('#/');
  const def = await db.get('forms', [d.form_id, d.form_version]);
  const latest = await latestDef(d.form_id);
  if (!def) return page('', h('p', { class: 'err' }, t('e_unknown_field')));
  const rec = d.record_id ? await db.get('records', d.record_id) : null;
  const conflicts = Object.fromEntries((rec?.conflicts ?? []).map((c) => [c.field, c.values]));
  const form = renderForm(def, d.data, { fresh: d.fresh, conflicts, device: await db.kv('device_id') });
  const note = h('p', { class: 'hint', id: 'draft-note', 'aria-live': 'polite' });
  const problems = h('p', { class: 'err', id: 'form-errors', role: 'alert', hidden: true });
  const state = keep?.id === id ? keep : { id, attempted: false, touched: new Set() };
  const { touched } = state;
  shown = state;
  let timer = null;

  const save = async () => {
    clearTimeout(timer);
    d.data = form.data();
    d.fresh = false;
    d.updated_at = new Date().toISOString();
    await db.put('drafts', d);
    note.textContent = t('draft_saved', { t: timeText(d.updated_at).slice(0, 5) });
  };
  const check = (scroll = false) => {
    const under = (p, q) => p === q || p.startsWith(`${q}.`) || p.startsWith(`${q}[`);
    const errs = validate(def.fields, form.data());
    const visible = state.attempted ? errs : errs.filter((e) => [...touched].some((q) => under(e.path, q)));
    form.showErrors(visible, scroll);
    problems.hidden = !state.attempted || !errs.length;
    problems.textContent = t('fix_errors', { n: errs.length });
    return errs;
  };
  form.el.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(save, 400);
    if (state.attempted) check();
  });
  form.el.addEventListener('change', (e) => {
    const p = e.target.closest?.('[data-path]')?.dataset.path;
    if (p) touched.add(p);
    save();
    check();
  });
  leave = save;

  const finish = async () => {
    state.attempted = true;
    const errs = check(true);
    if (errs.length) return;
    const data = form.data();
    if (d.record_id) {
      // An edit sends the whole form; a field the officer emptied is cleared with null.
      for (const [k, v] of Object.entries(d.base ?? {})) if (v != null && !(k in data)) data[k] = null;
    }
    await db.put('outbox', {
      id: d.id, form_id: d.form_id, form_version: d.form_version,
      record_id: d.record_id ?? null, parents: d.parents ?? [], captured_at: nowRfc3339(),
      data, status: 'queued', saved_at: new Date().toISOString(),
    });
    await db.del('drafts', d.id);
    leave = null;
    flash = t('saved');
    go(d.record_id ? `#/case/${d.record_id}` : '#/');
    if (navigator.onLine) sync.syncNow();
  };

  const discard = async () => {
    if (!confirm(t('confirm_delete'))) return;
    await db.del('drafts', d.id);
    leave = null;
    go(d.fixing ? '#/outbox' : '#/');
  };

  page('',
    h('h2', { id: 'form-title' }, L(def.title)),
    h('p', { class: 'hint' }, t('version', { v: def.version })),
    latest && latest.version > def.version ? h('p', { class: 'notice' }, t('old_version', { v: def.version })) : null,
    d.fixing ? h('p', { class: 'notice' }, t('rejected_note')) : null,
    h('form', { id: 'entry', novalidate: true, onsubmit: (e) => { e.preventDefault(); finish(); } },
      form.el, problems,
      h('button', { type: 'submit', id: 'save-btn', class: 'big' }, `✓ ${t('save')}`),
      note,
      h('button', { type: 'button', class: 'link danger', onclick: discard }, t('delete_draft'))));
  if (d.errors?.length) form.showErrors(d.errors, state !== keep);
  if (state.attempted || touched.size) check();
}

async function outboxView() {
  const items = (await db.all('outbox')).sort((a, b) => (a.id < b.id ? -1 : 1));
  const manifest = (await db.kv('manifest')) ?? [];
  const title = (id) => L(manifest.find((f) => f.form_id === id)?.title) || id;
  const defs = {};
  for (const i of items) defs[i.id] = await db.get('forms', [i.form_id, i.form_version]);
  page('#/outbox',
    h('h2', {}, t('outbox')),
    items.length ? h('ul', { class: 'list', id: 'outbox-list' }, items.map((i) =>
      h('li', { class: `item ${i.status}`, 'data-id': i.id },
        h('strong', {}, title(i.form_id)),
        h('small', {}, ` · ${timeText(i.saved_at)} · `, h('span', { class: 'badge' }, t(`st_${i.status}`))),
        i.status === 'rejected' ? [
          h('ul', { class: 'err' }, i.errors.map((e) => h('li', {}, describeError(defs[i.id], e)))),
          link(`#/fix/${i.id}`, `✎ ${t('fix')}`),
        ] : null))) : h('p', {}, t('outbox_empty')),
    h('button', { type: 'button', id: 'export-btn', class: 'secondary', onclick: exportOutbox }, t('export')));
}

// No data is ever trapped in a broken browser: the outbox (a valid push body) and the drafts.
async function exportOutbox() {
  const items = await db.all('outbox');
  // What the file holds may leave the phone when another officer takes it over.
  await db.setKv('exported', Object.fromEntries(items.map((i) => [i.id, i.saved_at])));
  const body = {
    device_id: await db.kv('device_id'),
    submissions: items.map(sync.toWire),
    exported_at: new Date().toISOString(),
    rejected: Object.fromEntries(items.filter((i) => i.status === 'rejected').map((i) => [i.id, i.errors])),
    drafts: await db.all('drafts'),
  };
  const url = URL.createObjectURL(new Blob([JSON.stringify(body, null, 1)], { type: 'application/json' }));
  const stamp = new Date().toISOString().slice(0, 16).replace(/\D/g, '');
  const a = h('a', { href: url, download: `coso-outbox-${stamp}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function casesView() {
  const records = (await db.all('records')).sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
  const defs = {};
  for (const r of records) defs[r.form_id] ??= await latestDef(r.form_id);
  const summary = (r) => {
    const def = defs[r.form_id];
    return (def?.fields ?? []).filter((f) => r.data[f.name] != null && f.type !== 'repeat').slice(0, 3)
      .map((f) => formatValue(f, r.data[f.name])).join(' · ');
  };
  page('#/cases',
    h('h2', {}, t('cases')),
    records.length ? h('ul', { class: 'list', id: 'case-list' }, records.map((r) =>
      h('li', {}, h('a', { href: `#/case/${r.record_id}`, class: 'btn secondary case', 'data-id': r.record_id },
        h('strong', {}, L(defs[r.form_id]?.title) || r.form_id,
          r.conflicts.length ? h('span', { class: 'badge bad' }, ` ${t('conflict_badge')}`) : null),
        h('small', {}, summary(r)))))) : h('p', {}, t('no_cases')));
}

async function caseView(recordId) {
  const r = await db.get('records', recordId);
  const me = await db.kv('device_id');
  if (!r) return go('#/cases');
  const def = await latestDef(r.form_id);
  const unsent = (await db.all('outbox')).some((i) => i.record_id === recordId);
  const field = (name) => def?.fields.find((f) => f.name === name);
  page('#/cases',
    h('h2', {}, L(def?.title) || r.form_id),
    h('p', { class: 'hint' }, t('updated', { t: timeText(r.updated_at) }), unsent ? ` · ${t('unsent')}` : ''),
    r.conflicts.length ? h('section', { class: 'conflicts', id: 'conflicts' },
      h('h3', {}, `⚠ ${t('conflicts')}`),
      r.conflicts.map((c) => h('div', { class: 'conflict', 'data-field': c.field },
        h('strong', {}, L(field(c.field)?.label) || c.field),
        h('ul', {}, c.values.map((v) => h('li', {}, formatValue(field(c.field), v.value),
          h('small', {}, ` — ${t('by_device', { d: deviceText(v.device_id, me), t: timeText(v.captured_at) })}`))))))) : null,
    def ? renderData(def, r.data) : null,
    link(`#/edit/${recordId}`, `✎ ${t('edit')}`, 'btn big'));
}

// --- routing ---------------------------------------------------------------------------

async function route() {
  if (leave) await leave().catch(() => {});
  leave = null;
  shown = null;
  if (takeToken()) return;
  if (!(await db.kv('token'))) return setupView();
  const [, name, arg] = location.hash.match(/^#\/(\w+)\/?(.*)$/) ?? [];
  const views = { new: newDraft, draft: formView, fix: fixItem, outbox: outboxView, cases: casesView, case: caseView, edit: editRecord };
  await (views[name] ?? homeView)(decodeURIComponent(arg ?? ''));
  window.scrollTo(0, 0);
}

async function boot() {
  document.documentElement.lang = lang;
  document.getElementById('lang').addEventListener('click', async () => {
    if (leave) await leave();
    setLang(lang === 'vi' ? 'en' : 'vi');
    document.getElementById('lang').textContent = t('lang_btn');
    keep = shown;
    await route();
    keep = null;
  });
  document.getElementById('lang').textContent = t('lang_btn');
  document.getElementById('lang').title = t('lang_title');
  addEventListener('hashchange', route);
  addEventListener('online', () => (pending ? doSetup(pending) : sync.online()));
  addEventListener('offline', renderStatus);
  addEventListener('pagehide', () => leave?.());
  sync.onStatus(() => {
    renderStatus();
    if (!sync.status.running) showUser(); // a sync may have finished an interrupted setup
    // Finished syncs, counted for anyone watching (the browser tests).
    if (!sync.status.running) document.body.dataset.syncs = Number(document.body.dataset.syncs ?? 0) + 1;
    // Lists refresh when a sync lands; an open form is never redrawn under the officer.
    if (!sync.status.running && !leave && !/^#\/(new|fix|edit)/.test(location.hash)) route();
  });
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
  if (takeToken()) return;
  await showUser();
  await route();
  if ((await db.kv('token')) && navigator.onLine) sync.syncNow();
}

boot();
