// Renders any form definition as widgets and reads the officer's answers back as `data`.
// Each widget: {f, el, get() -> value | undefined, showError(text), items?, byName?}.
// get() returns what the officer typed even when it is not valid (a string in a number
// field, say), so validate() can name the problem instead of it silently vanishing.
import { DOT_THOUSANDS, INCOMPLETE, L, Lp, ask, bi, errorText, pair, t, text, th, timeText } from './i18n.js';
import { multiline, unmarked } from './edit.js';
import { within } from './validate.js';

export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && k !== 'list' && k !== 'type') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...kids.flat(Infinity).filter((k) => k != null && k !== false));
  return el;
}

// `el` given the words of `kids`, only if they differ from those it holds: an alert or a live
// region written again with the same words is said again by a screen reader (each key typed
// after a failed Save checks the form anew). Whether it was written.
export function reword(el, ...kids) {
  const words = h('span', {}, ...kids);
  if (words.textContent === el.textContent) return false;
  el.replaceChildren(...words.childNodes);
  return true;
}

let seq = 0;
const uid = () => `w${++seq}`;
const pad = (n) => String(n).padStart(2, '0');

// datetime-local gives the phone's wall time; the protocol wants RFC 3339 with an offset.
export function nowRfc3339() {
  const d = new Date();
  return toRfc3339(`${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`);
}

export function toRfc3339(local) {
  const d = new Date(local);
  if (!local || Number.isNaN(+d)) return local || undefined;
  const off = -d.getTimezoneOffset();
  // before 1906 Asia/Ho_Chi_Minh keeps local mean time, +07:06:30, which no RFC 3339 offset writes
  if (!Number.isInteger(off)) return `${d.toISOString().slice(0, 19)}Z`;
  const a = Math.abs(off);
  const base = local.length === 16 ? `${local}:00` : local.slice(0, 19);
  return `${base}${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

// (the year in four digits, as datetime-local takes it: year 202 written "202-05-01" left
// the input empty)
function toLocal(rfc) {
  const d = new Date(rfc);
  if (!rfc || Number.isNaN(+d)) return '';
  const s = d.getSeconds() ? `:${pad(d.getSeconds())}` : '';
  return `${String(d.getFullYear()).padStart(4, '0')}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}${s}`;
}

// `asked`: a decimal field's text, which the officer may have typed "1.500" in; never a
// geopoint's (a coordinate is a decimal, and Locate writes 21.028)
function parseNumber(s, integer, asked = false) {
  s = s.trim();
  if (!s) return undefined;
  if (asked && DOT_THOUSANDS.test(s)) return s; // which is meant, the officer says
  s = s.replace(',', '.');
  // (a decimal's exponent: a stored 1e-7 is shown so, and must read back as the same number)
  const ok = integer ? /^[+-]?\d+$/.test(s) : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s);
  return ok ? Number(s) : s;
}

// A value holding a bidi override (U+202E) is shown isolated (FSI…PDI), its own isolates
// dropped: it cannot turn around the text after it (who wrote it, when, the next item).
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;
const iso = (s) => (BIDI.test(s) ? `\u2068${s.replace(/[\u2066-\u2069]/g, '')}\u2069` : s);

// A choice's label; one a later version dropped by the label of the version that offered it
// (`old`: {field: {value: label}} of earlier versions), not as its code.
function choiceLabel(f, v, old) {
  const label = f.choices?.find((x) => x.value === v)?.label ?? old?.[f.name]?.[v];
  return label ? L(label, false) : iso(String(v));
}

// Parts for h() with `sep` between them.
const joined = (parts, sep) => parts.flatMap((p, i) => (i ? [sep, p] : [p]));

// One item of a repeat group on one line: "Phạm Văn Cường · 1965 · Bên yêu cầu / Requester".
const itemText = (f, item, old) =>
  joined(f.fields.filter((g) => item[g.name] != null).map((g) => formatValue(g, item[g.name], old)), ' · ');

// Who wrote a value: this phone (its own device id `mine`) or another, by its id's end.
export const deviceText = (d, mine) => (d === mine ? t('this_phone') : [t('device_n'), ` …${iso(String(d).slice(-6))}`]);

// A value for reading (case view, conflicts), for h(): choices and yes/no in both languages.
// `old`: labels of choices earlier versions offered, {field: {value: label}}.
export function formatValue(f, v, old) {
  if (v == null) return '—';
  switch (f?.type) {
    case 'boolean':
      return t(v ? 'yes' : 'no');
    case 'select_one':
      return choiceLabel(f, v, old);
    case 'select_multiple':
      return joined(v.map((x) => choiceLabel(f, x, old)), ', ');
    case 'datetime':
      return timeText(v);
    case 'date':
      return v.split('-').reverse().join('/');
    case 'geopoint':
      return `${v.lat}, ${v.lon}${v.accuracy != null ? ` (±${v.accuracy} m)` : ''}`;
    case 'repeat':
      return joined(v.map((item, i) => [`${i + 1}. `, itemText(f, item, within(old, f.name))]), '; ');
    default:
      return iso(typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
}

function choiceInputs(choices, type, name, checked) {
  return choices.map((c) =>
    h('label', { class: `opt${c.old ? ' old' : ''}` },
      h('input', { type, name, value: c.value, checked: checked(c.value) }),
      h('span', {}, bi(c.text))),
  );
}

// The field's choices, plus a value the current version no longer offers (a case written on an
// earlier one), shown and selected as such: it stays unless the officer changes it. Each
// choice's text is a [vi, en] pair.
function choicesFor(f, value, ctx) {
  const list = f.choices.map((c) => ({ value: c.value, text: Lp(c.label) }));
  for (const v of [value ?? []].flat()) {
    if (typeof v !== 'string' || f.choices.some((c) => c.value === v)) continue;
    const label = ctx.oldLabels?.[f.name]?.[v];
    const was = label ? Lp(label) : [v, v];
    list.push({ value: v, old: true, text: pair('old_choice').map((s, i) => `${was[i]} (${s})`) });
  }
  return list;
}

function widget(f, value, path, ctx) {
  const id = uid();
  const errId = uid();
  const err = h('p', { id: errId, class: 'err', role: 'alert', hidden: true });
  const isGroup = ['boolean', 'select_multiple', 'geopoint', 'repeat'].includes(f.type) ||
    (f.type === 'select_one' && f.choices.length <= 6);
  const title = [L(f.label), f.required ? h('abbr', { class: 'req', title: text(pair('required_mark')) }, ' *') : null];
  const head = isGroup ? h('legend', {}, title) : h('label', { for: id }, title);
  const hintId = uid();
  const hint = f.hint ? h('p', { id: hintId, class: 'hint' }, L(f.hint, false)) : null;
  // A field in conflict: its competing values, and a box to settle it with the value chosen
  // below, even when that is the value shown (sent with `resolves`, which closes the conflict).
  const settleId = uid();
  const competing = ctx.conflicts?.[f.name] && path === f.name
    ? h('div', { class: 'competing' }, t('competing'),
      h('ul', {}, ctx.conflicts[f.name].map((c) =>
        h('li', {}, formatValue(f, c.value, ctx.oldLabels), h('small', {}, ' — ', deviceText(c.device_id, ctx.device), `, ${timeText(c.captured_at)}`)))),
      h('p', { class: 'settle' },
        h('input', { type: 'checkbox', id: settleId, class: 'settle-box', 'data-field': f.name, checked: !!ctx.settled?.includes(f.name) }),
        h('label', { for: settleId }, ' ', t('settle'))))
    : null;
  const choices = f.choices ? choicesFor(f, value, ctx) : [];
  // msg: what h() takes, or nothing
  // A screen reader hears, at each of the field's own controls (not those of a repeat's
  // items), that it is required, its hint, and its error while there is one.
  const described = (bad) => {
    const ids = [f.hint && hintId, bad && errId].filter(Boolean).join(' ');
    for (const c of w.marked()) {
      if (ids) c.setAttribute('aria-describedby', ids);
      else c.removeAttribute('aria-describedby');
      if (bad) c.setAttribute('aria-invalid', 'true');
      else c.removeAttribute('aria-invalid');
    }
  };
  const w = { f, legacy: choices.some((c) => c.old), showError: (msg) => {
    // the same words again leave the alert as it is (reword)
    if (!reword(err, ...[msg ?? []].flat()) && err.hidden === !msg) return;
    err.hidden = !msg;
    w.el.classList.toggle('bad', !!msg);
    described(!!msg);
  },
  controls: () => [...w.el.querySelectorAll('input, textarea, select')].filter((c) => c.closest('.field') === w.el && !c.classList.contains('settle-box')),
  // where ARIA says it: a group of radios as one radiogroup (a radio takes neither
  // aria-required nor aria-invalid), each other control itself
  marked: () => (w.el.getAttribute('role') === 'radiogroup' ? [w.el] : w.controls()) };
  let body;
  const input = (attrs) => h('input', { id, name: id, ...attrs });
  switch (f.type) {
    case 'integer':
    case 'decimal': {
      // a stored decimal (a case, a draft) shown with the Vietnamese decimal comma: "1.125"
      // would be asked about as if the officer had typed it
      const shown = typeof value === 'number' && f.type === 'decimal' ? String(value).replace('.', ',') : value ?? '';
      const el = input({ type: 'text', inputMode: f.type === 'integer' && !(f.min < 0) ? 'numeric' : 'decimal', value: shown, autocomplete: 'off' });
      body = el;
      w.get = () => parseNumber(el.value, f.type === 'integer', f.type === 'decimal');
      break;
    }
    case 'date': {
      const el = input({ type: 'date', value: value ?? '' });
      body = el;
      // (`keeping`, for a draft: what it held when opened, so a reload shows that, not an
      // empty box an edit would send as null)
      w.get = (keeping) => (el.validity.badInput ? (keeping ? value : INCOMPLETE) : el.value || undefined);
      break;
    }
    case 'datetime': {
      const el = input({ type: 'datetime-local', value: toLocal(value) });
      body = el;
      // Unchanged -> the stored string as it was (its offset too), so an edit of a case
      // does not rewrite a time it did not touch; nor erase one the input cannot show (it
      // stays empty then, and the value is kept until the officer writes another).
      const shown = el.value;
      w.get = (keeping) => {
        if (el.validity.badInput) return keeping ? value : INCOMPLETE;
        return el.value === shown && value && value !== INCOMPLETE ? value : toRfc3339(el.value);
      };
      break;
    }
    case 'boolean': {
      const b = ['true', 'false'].map((v) =>
        h('label', { class: 'opt' },
          h('input', { type: 'radio', name: id, value: v, checked: value === (v === 'true') }),
          h('span', {}, t(v === 'true' ? 'yes' : 'no'))));
      body = h('div', { class: 'opts row' }, b);
      w.get = () => { const c = body.querySelector('input:checked'); return c ? c.value === 'true' : undefined; };
      break;
    }
    case 'select_one':
      if (f.choices.length <= 6) {
        body = h('div', { class: 'opts' }, choiceInputs(choices, 'radio', id, (v) => v === value));
        w.get = () => body.querySelector('input:checked')?.value;
      } else {
        body = h('select', { id },
          h('option', { value: '' }, text(pair('choose'))),
          choices.map((c) => h('option', { value: c.value, selected: c.value === value }, text(c.text))));
        w.get = () => body.value || undefined;
      }
      break;
    case 'select_multiple': {
      body = h('div', { class: 'opts' }, choiceInputs(choices, 'checkbox', id, (v) => value?.includes(v)));
      w.get = () => {
        const picked = [...body.querySelectorAll('input:checked')].map((c) => c.value);
        return picked.length ? picked : undefined;
      };
      break;
    }
    case 'geopoint':
      body = geopoint(value, w, ctx);
      break;
    case 'repeat':
      body = repeat(f, value, path, w, ctx);
      break;
    default: {
      const long = multiline(f);
      // A digits-only pattern (phone numbers) gets the phone keypad.
      const digits = f.pattern && !/[a-ce-zA-Z]/.test(f.pattern.replace(/\\d/g, '')) ? 'tel' : undefined;
      // No maxLength attribute: it counts UTF-16 units and would cut text with emoji short of
      // max_length, which counts characters; validate() names an overlong text instead.
      const el = long
        ? h('textarea', { id, name: id, rows: 3 })
        : input({ type: 'text', inputMode: digits, autocomplete: 'off' });
      el.value = value ?? '';
      body = el;
      // Spaces around a value (a pasted phone number, a name) are not part of it; nor, in a
      // field with a pattern (a phone number, an ID), the invisible marks a copy from the
      // contacts or dialler brings (direction marks and isolates, zero-width spaces), which
      // made a number shown right "wrong". `keeping` (a draft): as typed, the space after the
      // last word too, which the next word follows (a draft is typed on after a reload).
      w.get = (keeping) => {
        const typed = keeping ? el.value : unmarked(f, el.value);
        const v = typed.trim();
        return v === '' ? undefined : (keeping ? typed : v).normalize('NFC');
      };
    }
  }
  // Optional single choices can be taken back.
  if (!f.required && (f.type === 'boolean' || (f.type === 'select_one' && body.tagName === 'DIV'))) {
    const clear = h('button', { type: 'button', class: 'link', onclick: () => {
      body.querySelectorAll('input:checked').forEach((c) => { c.checked = false; });
      body.dispatchEvent(new Event('change', { bubbles: true }));
    } }, t('clear'));
    body.append(clear);
  }
  w.el = h(isGroup ? 'fieldset' : 'div', { class: `field t-${f.type}`, 'data-path': path }, head, hint, competing, body, err);
  if (w.controls().some((c) => c.type === 'radio')) w.el.setAttribute('role', 'radiogroup');
  described(false);
  // required: not on each box of a select_multiple (each would read as one to tick)
  if (f.required && f.type !== 'repeat' && f.type !== 'select_multiple') w.marked().forEach((c) => c.setAttribute('aria-required', 'true'));
  return w;
}

function geopoint(value, w, ctx) {
  let extra = {}; // alt and accuracy from the GPS, dropped once lat/lon are typed by hand
  if (value) for (const k of ['alt', 'accuracy']) if (value[k] != null) extra[k] = value[k];
  const status = h('p', { class: 'hint' }, extra.accuracy != null ? t('located', { m: Math.round(extra.accuracy) }) : '');
  const say = (key, params) => status.replaceChildren(key ? t(key, params) : '');
  const box = (k) => {
    const id = uid();
    const el = h('input', { id, type: 'text', inputMode: 'decimal', value: value?.[k] ?? '', autocomplete: 'off',
      oninput: () => { extra = {}; say(); } });
    return [h('label', { for: id, class: 'sub' }, th(k), el), el];
  };
  const [latL, lat] = box('lat');
  const [lonL, lon] = box('lon');
  const locate = h('button', { type: 'button', class: 'secondary', onclick: () => {
    if (!navigator.geolocation) { say('no_location'); return; }
    say('locating');
    navigator.geolocation.getCurrentPosition((p) => {
      lat.value = +p.coords.latitude.toFixed(6);
      lon.value = +p.coords.longitude.toFixed(6);
      extra = { accuracy: Math.round(p.coords.accuracy * 10) / 10 };
      if (p.coords.altitude != null) extra.alt = Math.round(p.coords.altitude * 10) / 10;
      say('located', { m: Math.round(p.coords.accuracy) });
      locate.dispatchEvent(new Event('change', { bubbles: true }));
    }, () => { say('no_location'); }, { enableHighAccuracy: true, timeout: 30000, maximumAge: 60000 });
  } }, t('locate'));
  w.get = () => {
    const a = parseNumber(lat.value, false);
    const o = parseNumber(lon.value, false);
    if (a === undefined && o === undefined) return undefined;
    const v = { ...(a !== undefined && { lat: a }), ...(o !== undefined && { lon: o }), ...extra };
    return v;
  };
  return h('div', { class: 'geo' }, locate, status, h('div', { class: 'row' }, latL, lonL));
}

function repeat(f, value, path, w, ctx) {
  const list = h('div', { class: 'items' });
  w.items = [];
  // inside an item: the group's own sub-fields' labels, and no conflicts (those are of the
  // top-level fields, the group whole among them), whatever a sub-field is named
  const inner = { ...ctx, conflicts: {}, oldLabels: within(ctx.oldLabels, f.name) };
  const build = (values) => {
    list.replaceChildren();
    w.items = values.map((v, i) => {
      const item = group(f.fields, v ?? {}, `${path}[${i}].`, inner);
      // Sub-fields this version lacks (removed since) go back as they were: the record keeps them.
      item.kept = Object.fromEntries(Object.entries(v ?? {}).filter(([k]) => !item.byName[k]));
      // one group a screen reader names "Mục 2 / Item 2", whose Remove says which it takes
      item.el = h('div', { class: 'item', role: 'group', 'aria-label': text(pair('item', { n: i + 1 })) },
        h('div', { class: 'item-head' }, h('strong', {}, th('item', { n: i + 1 })),
          h('button', { type: 'button', class: 'link danger', 'aria-label': text(pair('remove_n', { n: i + 1 })), onclick: () => {
            // one tap beside the item above took a whole party with it, saved at once
            const filled = Object.keys(collect(w.items[i])).length > 0;
            if (filled && !confirm(ask('confirm_remove_item', { n: i + 1 }))) return;
            build(w.items.map((it) => collect(it)).filter((_, j) => j !== i));
            // first: what the form marks by item number (fields touched) moves with the items
            list.dispatchEvent(new CustomEvent('itemremoved', { bubbles: true, detail: { path, index: i } }));
            list.dispatchEvent(new Event('change', { bubbles: true }));
          } }, t('remove'))),
        item.els);
      list.append(item.el);
      return item;
    });
    add.hidden = f.max != null && w.items.length >= f.max;
  };
  const add = h('button', { type: 'button', class: 'secondary', onclick: () => {
    build([...w.items.map((it) => collect(it)), {}]);
    list.dispatchEvent(new Event('change', { bubbles: true }));
    w.items.at(-1).els[0]?.querySelector('input,select,textarea')?.focus();
  } }, t('add'));
  // A new required group starts with as many empty items as it needs.
  const start = value ?? (ctx.fresh && f.required ? Array(Math.max(f.min ?? 1, 1)).fill({}) : []);
  build(start);
  w.get = (keeping) => (w.items.length ? w.items.map((it) => collect(it, keeping)) : undefined);
  return h('div', {}, list, add);
}

function group(fields, data, prefix, ctx) {
  const widgets = fields.map((f) => widget(f, data[f.name], prefix + f.name, ctx));
  return { widgets, byName: Object.fromEntries(widgets.map((w) => [w.f.name, w])), els: widgets.map((w) => w.el) };
}

// What the form holds; `keeping`: as a draft keeps it (a date typed in part as it was).
function collect(g, keeping = false) {
  const out = { ...g.kept };
  for (const w of g.widgets) {
    const v = w.get(keeping);
    if (v !== undefined) out[w.f.name] = v;
  }
  return out;
}

// `a[1].b.lat` -> the deepest widget on that path.
function find(g, path) {
  const parts = path.match(/[^.[\]]+/g) ?? [];
  let w = g.byName[parts[0]];
  for (let i = 1; w && i < parts.length; i++) {
    const item = w.items?.[Number(parts[i])];
    const next = item?.byName[parts[i + 1]];
    if (!next) break;
    w = next;
    i += 1;
  }
  return w;
}

// A conflict on a field this version no longer has (removed by a later version; the case
// keeps its values): no widget shows the field, so its competing values are given to choose
// from, with the box to settle it with the one chosen. `f` is the field as the version that
// had it defines it, under the name the case keeps it by.
function retiredConflict(f, value, ctx) {
  const values = ctx.conflicts[f.name];
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const name = uid();
  const settleId = uid();
  // laid out as a field in conflict is: its box, then the values to choose from below it
  const el = h('fieldset', { class: 'field retired', 'data-path': f.name },
    h('legend', {}, L(f.label), ' ', h('small', {}, '(', t('old_choice'), ')')),
    h('div', { class: 'competing' }, t('competing'),
      h('p', { class: 'settle' },
        h('input', { type: 'checkbox', id: settleId, class: 'settle-box', 'data-field': f.name, checked: !!ctx.settled?.includes(f.name) }),
        h('label', { for: settleId }, ' ', t('settle')))),
    values.map((c, i) => h('label', { class: 'opt' },
      h('input', { type: 'radio', name, value: String(i), checked: same(c.value, value) }),
      h('span', {}, formatValue(f, c.value, ctx.oldLabels),
        h('small', {}, ' — ', deviceText(c.device_id, ctx.device), `, ${timeText(c.captured_at)}`)))));
  // the value chosen; none chosen: the case's as it is
  const get = () => {
    const i = el.querySelector(`input[name="${name}"]:checked`)?.value;
    return i === undefined ? undefined : values[Number(i)].value;
  };
  return { f, el, get };
}

// {el, data(), showErrors(errors) -> count shown, clearErrors()} for definition `def`.
// opts: {fresh: a new record (required repeats start filled), conflicts: {field: values},
// settled: fields in conflict the officer settles, device: this phone's device id,
// oldLabels: {field: {value: label}} from earlier versions, retired: the fields in conflict
// `def` no longer has, as an earlier version defines them (retiredConflict)}.
export function renderForm(def, data, opts = {}) {
  const ctx = { fresh: !!opts.fresh, conflicts: opts.conflicts, settled: opts.settled, device: opts.device, oldLabels: opts.oldLabels };
  const g = group(def.fields, data ?? {}, '', ctx);
  const retired = (opts.retired ?? []).filter((f) => ctx.conflicts?.[f.name])
    .map((f) => retiredConflict(f, data?.[f.name], ctx));
  const general = h('div', { class: 'err general', role: 'alert', hidden: true });
  const all = (ws) => ws.flatMap((w) => [w, ...(w.items ?? []).flatMap((it) => all(it.widgets))]);
  const clearErrors = () => {
    all(g.widgets).forEach((w) => w.showError(''));
    general.hidden = true;
  };
  const el = h('div', { class: 'fields' }, general, g.els, retired.map((r) => r.el));
  const collected = (keeping) => {
    const out = collect(g, keeping);
    for (const r of retired) {
      const v = r.get();
      if (v !== undefined) out[r.f.name] = v;
    }
    return out;
  };
  return {
    el,
    data: (keeping = false) => collected(keeping),
    // the removed fields in conflict, as fields (edit.js changes: one chosen is a change)
    retired: retired.map((r) => r.f),
    // the fields in conflict whose box "settle with the value chosen" is ticked
    settled: () => [...el.querySelectorAll('.settle-box:checked')].map((b) => b.dataset.field),
    clearErrors,
    showErrors(errors, scroll = false) {
      const byWidget = new Map();
      const loose = [];
      for (const e of errors) {
        const w = e.path ? find(g, e.path) : null;
        const words = w?.legacy && e.code === 'choice' ? pair('e_choice_old') : w && errorText(e, w.f, w.get());
        if (w) byWidget.set(w, [...(byWidget.get(w) ?? []), words]);
        else loose.push(errorText(e));
      }
      // each error's words changed only where they change (not cleared and written again)
      all(g.widgets).forEach((w) => w.showError(byWidget.has(w) ? messages(byWidget.get(w)) : ''));
      reword(general, ...messages(loose));
      general.hidden = !loose.length;
      // Only on request (saving): scrolling while the officer taps elsewhere loses the tap.
      // and focus there, so that a screen reader says what is wrong and typing fixes it
      if (scroll && errors.length) {
        const first = [...byWidget.keys()][0];
        (first?.el ?? general).scrollIntoView({ block: 'center' });
        first?.controls()[0]?.focus({ preventScroll: true });
      }
      return errors.length;
    },
  };
}

// [vi, en] pairs of errors, each once, for h().
const messages = (pairs) => joined([...new Map(pairs.map((p) => [text(p), p])).values()].map((p) => bi(p)), ' · ');

// The field a validation path points at (`cac_ben[1].nam_sinh` -> nam_sinh), with its labels.
export function describeError(def, e) {
  let fields = def?.fields ?? [];
  const labels = [];
  let f;
  for (const part of e.path?.match(/[^.[\]]+/g) ?? []) {
    const next = fields.find((x) => x.name === part);
    if (!next) {
      // a field this version lacks (removed since): its name, not nothing
      if (!/^\d+$/.test(part)) labels.push(part);
      continue;
    }
    f = next;
    labels.push(L(f.label));
    fields = f.fields ?? [];
  }
  return [labels.length ? [joined(labels, ' › '), ': '] : null, bi(errorText(e, f))];
}

// The first values of a case or draft, for lists (for h(), [] when none): "Camera an ninh tổ 5
// · Tự phòng / Self-defence".
export function summary(def, data, n = 3, old = {}) {
  const fields = def?.fields ?? [];
  const plain = fields.filter((f) => data?.[f.name] != null && f.type !== 'repeat').slice(0, n)
    .map((f) => formatValue(f, data[f.name], old));
  // whom the case is about: the first text of the items of its first group (the parties'
  // names), which a card did not show, so that cases of one day and kind looked alike
  const group = fields.find((f) => f.type === 'repeat' && Array.isArray(data?.[f.name]) && data[f.name].length);
  const sub = group?.fields?.find((g) => g.type === 'text');
  const names = sub
    ? data[group.name].map((item) => item?.[sub.name]).filter((x) => typeof x === 'string' && x.trim()).slice(0, 3)
    : [];
  return joined(names.length ? [...plain, iso(names.join(', '))] : plain, ' · ');
}

// Read-only view of a record's data (`old` as for formatValue).
export function renderData(def, data, old = {}) {
  return h('dl', { class: 'data' }, def.fields.filter((f) => data[f.name] != null).map((f) => [
    h('dt', {}, L(f.label)),
    f.type === 'repeat'
      ? h('dd', {}, h('ol', {}, data[f.name].map((item) => h('li', {}, itemText(f, item, within(old, f.name))))))
      : h('dd', {}, formatValue(f, data[f.name], old)),
  ]));
}
