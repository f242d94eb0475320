// What an edit of a case sends, and the phone's copy of the case after it (pure). An edit
// sends only the fields the officer changed against the data the form opened with (`base`):
// a field left as it was, or one the current version lacks, stays absent (PROTOCOL: absent =
// untouched), and an emptied field goes as null. So a value the current version no longer
// offers, or a field it removed, survives an edit that did not touch it.

// A long text field is a textarea (line ends kept), a short one an input (render.js).
export const multiline = (f) => f.max_length > 300 || (!f.max_length && !f.pattern);

// A text as the form reads it back: a textarea makes CRLF and CR one \n, an input drops line
// ends, and spaces around it are no part of it. Stored text a desk client sent with CRLF or a
// trailing space was otherwise "changed" by opening it, sent with an edit that never touched
// it, and put in conflict with a colleague's correction.
// In a field with a pattern (a phone number, an ID), the invisible marks a copy from the
// contacts brings are no part of it either (unmarked: INVISIBLE).
function shownText(f, v) {
  const lines = multiline(f) ? v.replace(/\r\n?/g, '\n') : v.replace(/[\r\n]/g, '');
  return unmarked(f, lines).trim().normalize('NFC');
}

// Format characters nobody sees: zero-width spaces and joiners, direction marks, embeddings
// and isolates, the word joiner, the BOM.
export const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
export const unmarked = (f, v) => (f?.pattern ? v.replace(INVISIBLE, '') : v);

// One spelling per value: a select_multiple as a set, objects by their known fields, text as
// the form shows it, no nulls.
function canon(f, v) {
  if (f?.type === 'text' && typeof v === 'string') v = shownText(f, v);
  if (v == null || v === '' || (Array.isArray(v) && !v.length)) return null;
  if (f?.type === 'select_multiple') return [...v].sort();
  if (f?.type === 'repeat') return v.map((item) => canonAll(f.fields, item ?? {}));
  if (f?.type === 'geopoint') return Object.keys(v).sort().filter((k) => v[k] != null).map((k) => [k, v[k]]);
  return v;
}
// Sub-fields a later version dropped are left out: an untouched group stays unchanged.
const canonAll = (fields, obj) =>
  fields.filter((g) => canon(g, obj[g.name]) != null).map((g) => [g.name, canon(g, obj[g.name])]);

export const same = (f, a, b) => JSON.stringify(canon(f, a)) === JSON.stringify(canon(f, b));

// {field: value} for the fields of `fields` whose value in `now` differs from `base`.
export function changes(fields, now, base) {
  const out = {};
  for (const f of fields) if (!same(f, now[f.name], base?.[f.name])) out[f.name] = now[f.name] ?? null;
  return out;
}

// Data of an older form version under the names of the version `renames` came with (its
// `renames`: old name -> name now, `group.old` for a repeat group's sub-fields), as the server
// merges it: a case pulled before a rename, or an unsent edit made on the older version, is
// shown and edited under the new names, never as empty fields. Names already current are not
// among the old ones (the server refuses a version that would make them so): mapping data
// that is partly current, partly older, is safe.
export function underNames(data, renames) {
  if (!data || !renames || !Object.keys(renames).length) return data;
  const out = {};
  for (const [key, value] of Object.entries(data)) {
    const name = Object.hasOwn(renames, key) ? renames[key] : key;
    let v = value;
    if (Array.isArray(v) && v.length && v[0] && typeof v[0] === 'object' && !Array.isArray(v[0])) {
      const prefix = `${name}.`;
      const inner = Object.fromEntries(Object.entries(renames)
        .filter(([o]) => o.startsWith(prefix)).map(([o, n]) => [o.slice(prefix.length), n]));
      if (Object.keys(inner).length) {
        v = v.map((item) => (item && typeof item === 'object' && !Array.isArray(item) ? underNames(item, inner) : item));
      }
    }
    if (name === key || !Object.hasOwn(out, name)) out[name] = v; // a current name wins over an older one
  }
  return out;
}

// A case as the phone shows it under `def`'s names: its data and its conflicts' fields.
export const recordUnder = (rec, def) => (rec && def?.renames
  ? { ...rec, data: underNames(rec.data, def.renames), conflicts: (rec.conflicts ?? []).map((c) => ({ ...c, field: Object.hasOwn(def.renames, c.field) ? def.renames[c.field] : c.field })) }
  : rec);

// `base` with an edit's data applied (null clears).
export function applied(base, data) {
  const out = { ...base };
  for (const [k, v] of Object.entries(data ?? {})) {
    if (v == null) delete out[k];
    else out[k] = v;
  }
  return out;
}

// What the record holds once an outbox item is in: its base with its data (an item made by an
// older client has no base and sent the whole form).
export const stateAfter = (item) => applied(item.base ?? {}, item.data);

// The phone's copy of a case it made and has not sent (a follow-up form, `sync_to_devices`):
// listed, opened and edited offline as a pulled one is, until a pull brings the server's.
export const localCase = (item, area) => ({
  record_id: item.id, form_id: item.form_id, form_version: item.form_version, area,
  data: stateAfter(item), // a new case's item has no base: its values without the nulls
  heads: [item.id], revision: 0, conflicts: [], flags: [], local: true,
  updated_at: item.saved_at, created_at: item.saved_at,
});

// Nothing entered: only empty values (a required group starts with empty items).
export const blank = (v) =>
  v == null || v === '' || (typeof v === 'object' && Object.values(v).every(blank));

// The phone's copy of a case after the server took one of its edits: the edit's parents,
// when they were heads of this copy, give way to it, and its data is applied. The next edit
// then descends from it, even when the pull that would have said so failed.
// `latest`: the form's version the server serves, whose names the copy and the edit take
// (older ones mapped, as the server does), so that an emptied field clears what the copy held
// under an older name.
export function afterPush(rec, item, latest, conflicts = [], device = null) {
  if (!item.parents?.length || !item.parents.every((p) => rec.heads.includes(p))) return null;
  const data = underNames(item.data, latest?.renames);
  const written = Object.keys(data);
  // (the server names every field of the record in conflict: those this edit did not write
  // keep what the phone knows of them until the pull)
  const conflicted = conflicts.filter((f) => written.includes(f));
  const was = recordUnder(rec, latest);
  // an edit that descends from every head settles the conflicts on the fields it writes
  const kept = item.parents.length === rec.heads.length
    ? was.conflicts.filter((c) => !written.includes(c.field) && !conflicted.includes(c.field))
    : was.conflicts.filter((c) => !conflicted.includes(c.field));
  // ...unless the server said `conflict` on them: an edit from another phone the phone has not
  // pulled yet. Its own value is one of the values; `partial` until a pull brings them all.
  const mine = (f) => ({ value: data[f] ?? null, submission_id: item.id, device_id: device, captured_at: item.captured_at });
  const unseen = conflicted.map((f) => ({ field: f, values: [mine(f)], partial: true }));
  return {
    ...was,
    ...(latest && { form_version: Math.max(latest.version, rec.form_version ?? 0) }),
    heads: [...rec.heads.filter((h) => !item.parents.includes(h)), item.id],
    data: applied(was.data, data),
    conflicts: [...kept, ...unseen].sort((a, b) => (a.field < b.field ? -1 : 1)),
    updated_at: new Date().toISOString(),
  };
}

// The outbox after the officer discards `gone`, a rejected item: the edits held behind it
// (built on it, so never merged by the server) go again under new ids, in the order saved,
// without its changes: onto the case as the phone has it (`rec`), or, when `gone` created the
// record, the first of them as the record's creation, holding all it showed. [[old id, item]].
export function rebased(gone, held, rec, newId) {
  const by = new Map(); // old id -> the item going in its place
  const sorted = [...held].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const i of sorted) {
    if (!i.parents?.some((p) => p === gone.id || by.has(p))) continue;
    const parent = by.get(i.parents.find((p) => by.has(p)));
    const made = !gone.record_id && !parent; // gone created the record: this creates it now
    const recordId = gone.record_id || !parent ? i.record_id : parent.record_id ?? parent.id;
    by.set(i.id, made
      ? { ...i, id: newId(), record_id: null, parents: [], data: stateAfter(i), base: undefined, status: 'queued' }
      : {
        ...i, id: newId(), record_id: recordId, status: 'queued',
        // onto what `gone` was built on when the case is no longer on the phone (a disabled
        // account's cases go): `[]` made an edit the server refuses, which no fix could mend
        parents: i.parents.flatMap((p) => (p === gone.id ? rec?.heads ?? gone.parents ?? [] : [by.get(p)?.id ?? p])),
        base: parent ? stateAfter(parent) : rec?.data ?? i.base,
      });
  }
  return [...by];
}
