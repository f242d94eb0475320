// UUIDv7 (RFC 9562) made on the phone: time-ordered, so the outbox sorts in the order the
// officer saved, and the server's SQLite indexes insert them cheaply. Increasing for good,
// not only while the page lives: the last millisecond used is kept (localStorage, shared by
// the tabs), so a clock set back (one that ran ahead, corrected) never makes a later entry
// sort before an earlier one; the app finds "the latest edit" and sends parents first by id.
const KEY = 'coso-uuid7-ms';
let lastMs = -1;
let counter = 0;

function keptMs() {
  try {
    return Number(localStorage.getItem(KEY)) || -1;
  } catch {
    return -1; // (no localStorage: a worker, storage blocked) this page's order only
  }
}

export function uuid7() {
  let ms = Date.now();
  const kept = keptMs();
  if (kept > lastMs) {
    // another tab, or this phone before a reload, got further: step past its millisecond
    lastMs = kept;
    counter = 0xfff;
  }
  if (ms > lastMs) {
    lastMs = ms;
    counter = crypto.getRandomValues(new Uint16Array(1))[0] & 0x3ff; // headroom to count up
  } else {
    // Same millisecond (or the clock stepped back): keep ids increasing.
    counter += 1;
    if (counter > 0xfff) {
      lastMs += 1;
      counter = 0;
    }
    ms = lastMs;
  }
  try {
    localStorage.setItem(KEY, String(lastMs));
  } catch {
    // as above
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
