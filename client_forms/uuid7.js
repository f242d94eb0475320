// UUIDv7 (RFC 9562) made on the phone: time-ordered, so the outbox sorts in the order the
// officer saved, and the server's SQLite indexes insert them cheaply.
let lastMs = -1;
let counter = 0;

export function uuid7() {
  let ms = Date.now();
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
