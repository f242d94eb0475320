// The server's rules for `data` (server/validate.py), checked on the phone before saving so
// the officer fixes mistakes on the spot rather than after the next sync.
// validate(fields, data) -> [{path, code, limit?}], paths like `cac_ben[1].nam_sinh`.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const GEO = { lat: [-90, 90], lon: [-180, 180], alt: [-20000, 100000], accuracy: [0, 1e7] };

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
// ('' is no answer in a text field only, as on the server: a choice, date or number of ''
// is refused there, so it is here)
const missing = (v, f) =>
  v === undefined || v === null || (v === '' && f.type === 'text') || (Array.isArray(v) && !v.length);
// Text of only spaces and invisible characters counts as not written for a required field:
// the spaces of Python's str.strip() (JS trim() differs: it strips U+FEFF and keeps
// U+001C-U+001F and U+0085), and zero-width spaces and joiners, word joiner, BOM and soft
// hyphen, as the server's BLANK_RE.
const BLANK = /^[\t-\r\x1c-\x20\x85\xa0\xad\u1680\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]*$/;

function validDate(s) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const [y, m, d] = s.split('-').map(Number);
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d); // not Date.UTC, which reads the years 0-99 as 1900-1999
  return y >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

// The time of an RFC 3339 datetime as the server's datetime.fromisoformat takes it: hours to
// 23, minutes and seconds to 59 (no leap second), an offset under 24 hours.
function validTime(s) {
  const [, hh, mm, ss, , , , oh, om] = /T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(([+-])(\d{2}):(\d{2}))?/i.exec(s.replace(' ', 'T')) ?? [];
  if (hh === undefined) return false;
  return +hh <= 23 && +mm <= 59 && +ss <= 59 && (oh === undefined || (+oh <= 23 && +om <= 59));
}

// A pattern this phone's RegExp cannot compile (the server reads the same syntax, but an old
// browser may lack a newer piece of it, or a form published before the server checked)
// checks nothing here: the server decides.
function matches(pattern, v) {
  let re;
  try {
    re = new RegExp(pattern, 'u');
  } catch {
    return true;
  }
  return re.test(v);
}

function bounds(f, v, path, errs, lo = 'min', hi = 'max') {
  if (f.min != null && v < f.min) errs.push({ path, code: lo, limit: f.min });
  if (f.max != null && v > f.max) errs.push({ path, code: hi, limit: f.max });
}

// The labels of earlier versions' choices inside repeat group `group`, by sub-field name:
// `old` keys a group's sub-fields as `group.field`, so that a sub-field never takes the
// labels of a field of the same name at the top (or in another group).
export function within(old, group) {
  const out = Object.create(null);
  const prefix = `${group}.`;
  for (const key of Object.keys(old ?? {})) if (key.startsWith(prefix)) out[key.slice(prefix.length)] = old[key];
  return out;
}

const offered = (f, v, old) =>
  f.choices.some((c) => c.value === v) || (Object.hasOwn(old ?? {}, f.name) && Object.hasOwn(old[f.name], v));

function check(f, v, path, errs, old) {
  const type = (ok) => {
    if (!ok) errs.push({ path, code: 'type', type: f.type });
    return ok; // so that a value of the wrong type is checked no further
  };
  switch (f.type) {
    case 'text':
      if (!type(typeof v === 'string')) return;
      if (v.includes('\u0000')) errs.push({ path, code: 'control_character' });
      // half of a surrogate pair (text cut inside an emoji) is not text: the server refuses it
      if (/\p{Cs}/u.test(v)) errs.push({ path, code: 'malformed' });
      if ([...v].length > (f.max_length ?? 100000))
        errs.push({ path, code: 'max_length', limit: f.max_length });
      if (f.pattern && v && !matches(f.pattern, v)) errs.push({ path, code: 'pattern' });
      return;
    case 'integer':
    case 'decimal':
      // beyond ±(2^53 - 1) the server refuses an integer (`range`): it would not stay exact
      if (!type(f.type === 'integer' ? Number.isInteger(v) : isNum(v))) return;
      // (past a field's own bound too: that bound is what the officer can act on)
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
        const before = errs.length;
        bounds(f, v, path, errs);
        if (errs.length === before) errs.push({ path, code: 'range' });
      } else bounds(f, v, path, errs);
      return;
    case 'boolean':
      type(typeof v === 'boolean');
      return;
    case 'date':
      if (type(typeof v === 'string') && !validDate(v)) errs.push({ path, code: 'format' });
      return;
    case 'datetime':
      if (type(typeof v === 'string') && !(RFC3339.test(v) && validDate(v.slice(0, 10)) && validTime(v)))
        errs.push({ path, code: 'format' });
      return;
    case 'select_one':
      if (type(typeof v === 'string') && !offered(f, v, old)) errs.push({ path, code: 'choice' });
      return;
    case 'select_multiple': {
      if (!type(Array.isArray(v))) return;
      const seen = new Set();
      v.forEach((x, i) => {
        if (!offered(f, x, old)) errs.push({ path: `${path}[${i}]`, code: 'choice' });
        else if (seen.has(x)) errs.push({ path: `${path}[${i}]`, code: 'duplicate' });
        seen.add(x);
      });
      bounds(f, v.length, path, errs, 'min_items', 'max_items');
      return;
    }
    case 'geopoint':
      if (!type(v && typeof v === 'object' && !Array.isArray(v))) return;
      for (const k of ['lat', 'lon']) if (!(k in v)) errs.push({ path: `${path}.${k}`, code: 'required' });
      for (const [k, x] of Object.entries(v)) {
        const here = `${path}.${k}`;
        if (!GEO[k]) errs.push({ path: here, code: 'unknown_field' });
        else if (!isNum(x)) errs.push({ path: here, code: 'type', type: 'decimal' });
        else if (x < GEO[k][0] || x > GEO[k][1]) errs.push({ path: here, code: 'range', limit: GEO[k] });
      }
      return;
    case 'repeat':
      if (!type(Array.isArray(v))) return;
      bounds(f, v.length, path, errs, 'min_items', 'max_items');
      v.forEach((item, i) => validateInto(f.fields, item, `${path}[${i}].`, errs, within(old, f.name)));
      return;
    default:
      errs.push({ path, code: 'type' });
  }
}

function validateInto(fields, data, prefix, errs, old) {
  for (const f of fields) {
    const v = data?.[f.name];
    if (missing(v, f) || (f.required && typeof v === 'string' && BLANK.test(v))) {
      if (f.required) errs.push({ path: prefix + f.name, code: 'required' });
    } else check(f, v, prefix + f.name, errs, old);
  }
  return errs;
}

// `old`: the choices earlier versions offered, {field: {value: label}}: a case keeps a value
// a later version dropped, and the server takes it (it never hides data collected).
export const validate = (fields, data, old = {}) => validateInto(fields, data, '', [], old);
