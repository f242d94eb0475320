// Every user-facing string as a [Vietnamese, English] pair. Both are always shown: the
// Vietnamese first, its English beside it in a span with lang="en" (bi()). t('key', {n: 3})
// fills {n}; a parameter may itself be a pair.
const S = {
  app: ['Công tác cơ sở', 'Grassroots work'],
  setup_title: ['Cài đặt thiết bị', 'Set up this phone'],
  setup_text: [
    'Mở đường dẫn cài đặt mà quản trị viên gửi cho bạn, hoặc dán đường dẫn cài đặt/mã truy cập vào đây.',
    'Open the setup link your administrator sent you, or paste the setup link or access token here.',
  ],
  setup_input: ['Đường dẫn cài đặt hoặc mã truy cập', 'Setup link or access token'],
  setup_btn: ['Cài đặt', 'Set up'],
  setup_bad: ['Mã truy cập không hợp lệ hoặc đã bị thu hồi. Nếu mở từ đường dẫn: hãy kiểm tra đường dẫn còn nguyên, không bị cắt.', 'The access token is invalid or was revoked. From a link: check that the link came whole, not cut short.'],
  setup_offline: ['Cần có mạng để cài đặt; máy chưa lưu gì. Hãy thử lại khi có mạng.', 'Setting up needs the network; nothing was kept. Try again when online.'],
  setup_other_user: [
    'Đường dẫn cài đặt này của {new}, nhưng máy còn {n} mục chưa gửi của {old}. Hãy đồng bộ trước; nếu không gửi được (tài khoản của {old} đã bị khóa, hoặc mục bị từ chối), hãy lưu hộp thư đi ra tệp. Sau đó mở lại đường dẫn cài đặt.',
    'This link is for {new}, but the phone still holds {n} unsent item(s) of {old}. Sync first; if they cannot go (the account of {old} is disabled, or the items were rejected), save the outbox to a file. Then open the link again.',
  ],
  confirm_switch: [
    'Chuyển máy này sang tài khoản {new}? Các hồ sơ đã tải và {n} bản nháp chưa xong của {old} sẽ bị xóa khỏi máy.',
    'Hand this phone over to {new}? The records downloaded and {n} unfinished draft(s) of {old} will be removed from it.',
  ],
  handed_over: [
    'Máy đã chuyển sang tài khoản khác: biểu mẫu đang mở của tài khoản trước không được lưu.',
    'The phone was handed over to another account: the open form of the previous account was not kept.',
  ],
  setup_declined: ['Không đổi tài khoản: máy vẫn của {old}.', 'Account not changed: the phone is still {old}\'s.'],
  setup_not_officer: [
    'Ứng dụng này dành cho cán bộ xã, phường; đường dẫn này của một tài khoản {role} ({name}), dùng API và tệp xuất. Máy không thay đổi gì.',
    'This app is for commune officers; this link is a {role} account\'s ({name}), which uses the API and exports. Nothing on the phone changed.',
  ],
  forms: ['Biểu mẫu', 'Forms'],
  no_forms: ['Chưa tải được biểu mẫu. Bấm Đồng bộ khi có mạng.', 'No forms yet. Press Sync when online.'],
  drafts: ['Bản nháp', 'Drafts'],
  outbox: ['Hộp thư đi', 'Outbox'],
  cases: ['Hồ sơ theo dõi', 'Follow-up records'],
  tab_cases: ['Hồ sơ', 'Records'],
  back: ['‹ Quay lại', '‹ Back'],
  sync: ['Đồng bộ', 'Sync'],
  syncing: ['Đang đồng bộ…', 'Syncing…'],
  waiting: ['Chờ gửi: {n}', 'Waiting: {n}'],
  clock_off: [
    'Đồng hồ của máy lệch {n} so với máy chủ: hãy chỉnh lại ngày giờ của máy',
    'The phone\'s clock is {n} off the server\'s: set the phone\'s date and time right',
  ],
  rejected_n: ['Bị từ chối: {n}', 'Rejected: {n}'],
  held_n: ['Chờ mục bị từ chối: {n}', 'Held by a rejected item: {n}'],
  last_sync: ['Đồng bộ lần cuối: {t}', 'Last sync: {t}'],
  never: ['chưa', 'never'],
  offline: ['Không có mạng', 'Offline'],
  retry_at: ['Thử lại lúc {t}', 'Retrying at {t}'],
  err_network: ['Lỗi mạng, sẽ thử lại.', 'Network error, will retry.'],
  err_auth: [
    'Mã truy cập không còn hiệu lực. Mở lại đường dẫn cài đặt; nếu không được, hãy xin quản trị viên đường dẫn mới. Các mục chưa gửi vẫn được giữ trên máy.',
    'Your access token is no longer valid. Open the setup link again; if that fails, ask your administrator for a new one. Unsent items stay on this phone.',
  ],
  setup_link_disabled: [
    'Tài khoản của đường dẫn này đã bị khóa: hãy liên hệ quản trị viên. Máy không thay đổi gì.',
    'This link\'s account is disabled: contact your administrator. Nothing on the phone changed.',
  ],
  setup_offline_kept: [
    'Không có mạng: chưa kiểm tra được đường dẫn cài đặt; máy vẫn như cũ. Hãy mở lại đường dẫn khi có mạng.',
    'No network: the setup link could not be checked; the phone is as it was. Open the link again when online.',
  ],
  err_disabled: [
    'Tài khoản đã bị khóa. Hãy liên hệ quản trị viên; các mục chưa gửi vẫn được giữ trên máy.',
    'Your account is disabled. Contact your administrator; unsent items stay on this phone.',
  ],
  err_server: ['Máy chủ báo lỗi: {m}', 'Server error: {m}'],
  last_result: ['Lần gửi cuối: {r}', 'Last push: {r}'],
  st_accepted: ['đã nhận', 'accepted'],
  st_duplicate: ['máy chủ đã có từ lần gửi trước', 'received before'],
  st_conflict: ['có xung đột', 'conflict'],
  st_pending: ['chờ bản trước', 'pending'],
  st_rejected: ['bị từ chối', 'rejected'],
  st_held: ['chờ mục bị từ chối', 'held'],
  held_note: [
    'Lần cập nhật này dựa trên một mục đã bị từ chối (ở trên): máy chủ giữ nó nhưng chưa ghi nhận. Hãy sửa mục đó (lần cập nhật này sẽ được ghi nhận cùng), hoặc bỏ nó (lần cập nhật này sẽ được gửi lại, không kèm thay đổi của mục bị bỏ).',
    'This update is based on an item that was rejected (above): the server holds it but has not recorded it. Fix that item (this update is then recorded with it), or discard it (this update is then sent again, without the discarded item\'s changes).',
  ],
  st_queued: ['chờ gửi', 'waiting'],
  save: ['Lưu vào hộp thư đi', 'Save to outbox'],
  saved: ['Đã lưu. Sẽ gửi khi có mạng.', 'Saved. It will be sent when online.'],
  saved_sent: ['Đã lưu và đã gửi lên máy chủ.', 'Saved, and sent to the server.'],
  fix_errors: ['Còn {n} lỗi, xem các ô đánh dấu đỏ.', '{n} problem(s): see the fields marked in red.'],
  draft_saved: ['Bản nháp đã lưu {t}', 'Draft saved {t}'],
  delete_draft: ['Xóa bản nháp', 'Delete draft'],
  confirm_delete: ['Xóa bản nháp này?', 'Delete this draft?'],
  confirm_remove_item: ['Xóa mục {n} cùng những gì đã nhập trong đó?', 'Remove item {n} and what was entered in it?'],
  moved: [
    'Bản nháp này đã được lưu ở một tab khác; phần bạn thay đổi thêm sẽ được gửi như một lần cập nhật.',
    'This draft was saved in another tab; what you change here now goes as an update of it.',
  ],
  no_changes: ['Không có gì thay đổi, không cần gửi.', 'Nothing changed: nothing to send.'],
  draft_update: ['Cập nhật', 'Update'], // then ": " and the record, once
  draft_empty: ['(chưa nhập gì)', '(nothing entered yet)'],
  old_choice: ['từ phiên bản trước', 'from an earlier version'],
  edit_rejected: [
    'Một lần cập nhật trước của hồ sơ này bị máy chủ từ chối và chưa được ghi nhận: hãy sửa nó trong Hộp thư đi.',
    'An earlier update of this record was refused by the server and is not recorded: fix it in the Outbox.',
  ],
  edit_held: [
    'Một lần cập nhật của hồ sơ này đang chờ mục bị từ chối và chưa được ghi nhận: xem Hộp thư đi.',
    'An update of this record waits behind a rejected item and is not recorded yet: see the Outbox.',
  ],
  discard: ['Bỏ mục này', 'Discard'],
  confirm_discard: [
    'Bỏ mục bị từ chối này? Nội dung của nó sẽ bị xóa khỏi máy (hãy lưu hộp thư đi ra tệp trước nếu cần giữ).',
    'Discard this rejected item? Its content leaves the phone for good (save the outbox to a file first to keep it).',
  ],
  discarded: ['Đã bỏ mục bị từ chối.', 'The rejected item was discarded.'],
  discard_stale: [
    'Mục này đã được sửa hoặc bỏ ở nơi khác (một thẻ khác): không bỏ gì. Danh sách đã được cập nhật.',
    'This item was fixed or discarded elsewhere (another tab): nothing was discarded. The list is up to date.',
  ],
  confirm_discard_held: [
    'Bỏ mục bị từ chối này? Nội dung của nó sẽ bị xóa khỏi máy (hãy lưu hộp thư đi ra tệp trước nếu cần giữ). {n} lần cập nhật sau, dựa trên mục này, vẫn được giữ: chúng sẽ được gửi lại trên bản hiện có ở máy chủ, không kèm thay đổi của mục bị bỏ.',
    'Discard this rejected item? Its content leaves the phone for good (save the outbox to a file first to keep it). The {n} later update(s) made on top of it are kept: they are sent again onto what the server holds, without the discarded item\'s changes.',
  ],
  confirm_discard_held_new: [
    'Bỏ mục bị từ chối này? Nội dung của nó sẽ bị xóa khỏi máy (hãy lưu hộp thư đi ra tệp trước nếu cần giữ). {n} lần cập nhật sau của nó vẫn được giữ: lần đầu sẽ được gửi như một hồ sơ mới, gồm mọi thứ đã thấy khi cập nhật.',
    'Discard this rejected item? Its content leaves the phone for good (save the outbox to a file first to keep it). Its {n} later update(s) are kept: the first is sent as a new record, holding everything shown when it was made.',
  ],
  discarded_held: [
    'Đã bỏ mục bị từ chối; {n} lần cập nhật sau sẽ được gửi lại.',
    'The rejected item was discarded; the {n} later update(s) will be sent again.',
  ],
  st_more: ['Chi tiết đồng bộ', 'Sync details'],
  version: ['phiên bản {v}', 'version {v}'],
  old_version: ['Bản nháp dùng phiên bản cũ {v} của biểu mẫu.', 'This draft uses the older version {v} of the form.'],
  yes: ['Có', 'Yes'],
  no: ['Không', 'No'],
  clear: ['Bỏ chọn', 'Clear'],
  choose: ['— Chọn —', '— Choose —'],
  add: ['+ Thêm mục', '+ Add item'],
  remove: ['Xóa mục', 'Remove item'],
  remove_n: ['Xóa mục {n}', 'Remove item {n}'], // its name, for a screen reader
  item: ['Mục {n}', 'Item {n}'],
  locate: ['Lấy vị trí hiện tại', 'Use my location'],
  locating: ['Đang lấy vị trí…', 'Getting location…'],
  located: ['Sai số khoảng {m} m', 'Accuracy about {m} m'],
  no_location: ['Không lấy được vị trí, hãy nhập tay.', 'Could not get the location: enter it by hand.'],
  lat: ['Vĩ độ', 'Latitude'],
  lon: ['Kinh độ', 'Longitude'],
  required_mark: ['bắt buộc', 'required'],
  outbox_empty: ['Hộp thư đi trống.', 'The outbox is empty.'],
  not_persisted: [
    'Trình duyệt có thể xóa dữ liệu của ứng dụng khi máy hết bộ nhớ: hãy đồng bộ sớm, hoặc lưu ra tệp. Thêm ứng dụng vào màn hình chính để dữ liệu được giữ lại.',
    'The browser may clear the app\'s data when the phone runs out of space: sync soon, or save to a file. Add the app to the home screen to have its data kept.',
  ],
  export: ['Lưu hộp thư đi ra tệp', 'Save outbox to file'],
  fix: ['Sửa', 'Fix'],
  rejected_note: ['Máy chủ từ chối, cần sửa rồi lưu lại.', 'The server rejected it: fix and save again.'],
  no_cases: ['Chưa có hồ sơ nào. Bấm Đồng bộ để tải.', 'No records yet. Press Sync to download them.'],
  search_cases: ['Tìm hồ sơ: tên, địa chỉ, nội dung…', 'Search cases: name, address, details…'],
  no_match: ['Không có hồ sơ nào khớp.', 'No case matches.'],
  edit: ['Cập nhật', 'Update'],
  conflicts: ['Xung đột chưa giải quyết', 'Unsettled conflicts'],
  conflict_badge: ['⚠ xung đột', '⚠ conflict'],
  open_case: ['Xem hồ sơ', 'Open the record'],
  conflict_unseen: ['Máy khác đã sửa trường này: giá trị đó sẽ được tải về ở lần đồng bộ tới.', 'Another phone changed this field: that value will be downloaded at the next sync.'],
  unsent: ['có sửa đổi chưa gửi', 'unsent changes'],
  competing: ['Các giá trị khác nhau:', 'Competing values:'],
  settle: ['Chốt giá trị đã chọn ở dưới (đã xác minh)', 'Settle with the value chosen below (verified)'],
  device_n: ['máy', 'device'],
  this_phone: ['máy này', 'this phone'],
  updated: ['Cập nhật {t}', 'Updated {t}'],
  server_rejected: ['Máy chủ từ chối: {m}', 'Server rejected: {m}'],
  e_required: ['Bắt buộc nhập', 'Required'],
  e_type_integer: ['Nhập một số nguyên', 'Enter a whole number'],
  e_dot_decimal: ['Không rõ {v} là {a} hay {b}: viết {a}, hoặc {c} (dấu phẩy là dấu thập phân)', 'Unclear whether {v} means {a} or {b}: write {a}, or {c} (a comma is the decimal mark)'],
  e_thousands: ['Viết liền các chữ số, không dấu chấm hay dấu cách: {v}', 'Write the digits with no separators: {v}'],
  e_type_decimal: ['Nhập một số', 'Enter a number'],
  e_type: ['Giá trị không đúng kiểu', 'Wrong kind of value'],
  e_min: ['Không được nhỏ hơn {limit}', 'Must be at least {limit}'],
  e_max: ['Không được lớn hơn {limit}', 'Must be at most {limit}'],
  e_max_length: ['Tối đa {limit} ký tự', 'At most {limit} characters'],
  e_pattern: ['Không đúng định dạng', 'Wrong format'],
  e_pattern_compact: ['Viết liền, không dấu cách, dấu chấm hay gạch ngang: {v}', 'Write it with no spaces, dots or dashes: {v}'],
  e_format: ['Ngày giờ không hợp lệ', 'Not a valid date or time'],
  e_incomplete_date: ['Ngày chưa đủ: hãy ghi đủ ngày, tháng, năm, hoặc xoá hết', 'The date is incomplete: write the day, month and year, or clear it all'],
  e_incomplete_datetime: ['Ngày giờ chưa đủ: hãy ghi đủ ngày, tháng, năm, giờ, phút, hoặc xoá hết', 'The date and time are incomplete: write the day, month, year, hour and minute, or clear them all'],
  e_choice: ['Lựa chọn không hợp lệ', 'Not one of the choices'],
  e_choice_old: ['Lựa chọn của phiên bản trước không còn dùng được: bỏ chọn nó để lưu', 'A choice of an earlier version, no longer offered: untick it to save'],
  e_duplicate: ['Chọn trùng lặp', 'Selected twice'],
  e_min_items: ['Cần ít nhất {limit} mục', 'At least {limit} items'],
  e_max_items: ['Tối đa {limit} mục', 'At most {limit} items'],
  e_range: ['Ngoài phạm vi cho phép', 'Out of range'],
  e_range_between: ['Phải từ {a} đến {b}', 'Must be from {a} to {b}'],
  e_malformed: ['Có ký tự hỏng (nửa biểu tượng cảm xúc)', 'A broken character (half an emoji)'],
  e_control_character: ['Có ký tự điều khiển không hợp lệ', 'Contains an invalid control character'],
  e_unknown_field: ['Trường không có trong biểu mẫu', 'Not a field of this form'],
  // Whole-submission refusals a phone can meet (PROTOCOL.md, push).
  e_unknown_form: ['Máy chủ không có biểu mẫu này', 'The server has no such form'],
  e_unknown_version: ['Máy chủ không có phiên bản biểu mẫu này', 'The server has no such form version'],
  e_form_changed: ['Biểu mẫu đã thay đổi trên máy chủ: hãy xem lại rồi lưu', 'The form changed on the server: check the entry and save it again'],
  e_id_reused: ['Mã bản ghi này đã dùng cho nội dung khác', 'This id was already used for other content'],
  e_forbidden: ['Hồ sơ ngoài địa bàn của bạn', 'The record is outside your area'],
  e_form_mismatch: ['Hồ sơ thuộc biểu mẫu khác', 'The record belongs to another form'],
  e_other_record: ['Bản trước thuộc hồ sơ khác', 'A parent belongs to another record'],
  e_too_large: [
    'Mục này quá lớn để gửi (máy chủ hoặc mạng không nhận): hãy rút ngắn các nội dung dài rồi lưu lại',
    'This entry is too large to send (the server or the network refuses it): shorten its long texts and save it again',
  ],
  // The phone's storage (db.trouble), above every screen.
  storage_full: [
    'Bộ nhớ của máy đã đầy: ứng dụng không lưu được gì thêm. Hãy giải phóng dung lượng (xóa ảnh, video, ứng dụng không dùng); những gì vừa gõ vẫn được giữ tạm. Đừng xóa dữ liệu của trình duyệt.',
    'The phone\'s storage is full: the app cannot save anything more. Free some space (photos, videos, unused apps); what you just typed is kept for now. Do not clear the browser\'s data.',
  ],
  storage_closed: [
    'Ứng dụng đã được cập nhật ở một thẻ khác: hãy tải lại trang này để làm tiếp (những gì vừa gõ vẫn được giữ).',
    'The app was updated in another tab: reload this page to go on (what you just typed is kept).',
  ],
  storage_broken: [
    'Trình duyệt không mở được bộ nhớ của ứng dụng (cửa sổ ẩn danh, hoặc bộ nhớ bị hỏng): không lưu được gì. Hãy mở ứng dụng trong cửa sổ trình duyệt thường.',
    'The browser would not open the app\'s storage (a private window, or damaged storage): nothing can be saved. Open the app in a normal browser window.',
  ],
  storage_cleared: [
    'Dữ liệu của ứng dụng trên máy này đã bị xóa (trình duyệt dọn bộ nhớ khi máy thiếu chỗ, hoặc ai đó xóa dữ liệu trang web): các mục chưa gửi có thể đã mất. Mở lại đường dẫn cài đặt; những gì đang gõ dở sẽ được khôi phục nếu còn.',
    'This app\'s data on this phone was deleted (the browser cleared storage when the phone was short of space, or someone cleared the site\'s data): unsent entries may be lost. Open the setup link again; forms you were typing come back if they can.',
  ],
  reload: ['Tải lại trang', 'Reload the page'],
  err_storage: [
    'Không ghi được vào bộ nhớ của máy (xem thông báo ở trên): chưa đồng bộ xong.',
    'Could not write to the phone\'s storage (see the notice above): the sync did not finish.',
  ],
  draft_unsaved: [
    'Chưa lưu được bản nháp (bộ nhớ máy đầy); những gì vừa gõ được giữ tạm',
    'Draft not saved (the phone\'s storage is full); what you typed is kept for now',
  ],
  save_failed: [
    'Chưa lưu được (bộ nhớ của máy có vấn đề, xem thông báo ở trên); biểu mẫu vẫn mở.',
    'Not saved (a problem with the phone\'s storage, see the notice above); the form stays open.',
  ],
};
// "1.500" in a decimal field: one thousand five hundred the Vietnamese way, one and a half the
// English way. Neither is taken (the officer is asked which, `e_dot_decimal`): a decimal
// is written with a comma (1,5), or a dot followed by other than three digits (1.5).
export const DOT_THOUSANDS = /^[+-]?[1-9]\d{0,2}\.\d{3}$/;
// What a date or date-time box holds that the officer filled in part ("12/08/yyyy"): the
// browser reads it as empty, which saved no date, and in an edit erased the stored one.
export const INCOMPLETE = 'incomplete';

// Codes that are about the whole submission; other codes without a field are the server's
// words (a bad `captured_at`, say), not a field's.
const GEO_RANGE = { lat: [-90, 90], lon: [-180, 180] }; // server/validate.py, validate.js GEO
const ITEM_CODES = new Set(['unknown_form', 'unknown_version', 'id_reused', 'forbidden', 'form_mismatch', 'other_record', 'too_large']);

const fill = (s, params, i) => s.replace(/\{(\w+)\}/g, (_, k) => {
  const v = params[k] ?? '';
  return Array.isArray(v) ? v[i] : v;
});

// [vi, en] of a key, its {params} filled.
export const pair = (key, params = {}) => (S[key] ?? [key, key]).map((s, i) => fill(s, params, i));

// [vi, en] of a {vi, en} label from a form definition; either stands in for a missing other.
export const Lp = (label) => [label?.vi || label?.en || '', label?.en || label?.vi || ''];

// "Vietnamese / English" as plain text: attributes, <option>s, a placeholder.
export const text = ([vi, en]) => (en && en !== vi ? `${vi} / ${en}` : vi);

// A pair for h(): the Vietnamese, then the English in <span lang="en"> (once when the same).
// `sub` (labels, titles, headings): the English smaller and muted after the Vietnamese;
// otherwise (controls, sentences) "Vietnamese / English", and what both end with after ": "
// (a count, a value, the server's words) or the `tail` given is shown once: "Chờ gửi /
// Waiting: 3", "Cập nhật / Updated 10:15 01/09/2025".
export function bi([vi, en], sub = false, tail = '') {
  if (!en || en === vi) return vi + tail;
  const i = vi.indexOf(': ');
  const j = en.indexOf(': ');
  if (!sub && !tail && i > 0 && j > 0 && vi.slice(i) === en.slice(j)) {
    tail = vi.slice(i);
    vi = vi.slice(0, i);
    en = en.slice(0, j);
  }
  const el = document.createElement('span');
  el.className = 'bi';
  const english = document.createElement('span');
  english.lang = 'en';
  english.className = sub ? 'en sub' : 'en';
  english.textContent = en;
  el.append(vi, sub ? ' ' : ' / ', english, tail);
  return el;
}

// A key's words for h(): t() for controls and sentences, th() for labels and headings.
export function t(key, params = {}) {
  // "Cập nhật {t}" / "Updated {t}": the time once, after both
  const end = /(?<=[^:] )\{\w+\}$/.exec(S[key]?.[0] ?? '')?.[0];
  if (!end || !S[key][1].endsWith(` ${end}`) || Array.isArray(params[end.slice(1, -1)])) return bi(pair(key, params));
  const [vi, en] = pair(key, params);
  const tail = fill(end, params, 0);
  return bi([vi.slice(0, -tail.length - 1), en.slice(0, -tail.length - 1)], false, ` ${tail}`);
}
export const th = (key, params) => bi(pair(key, params), true);
// A form definition's label for h(), as a label or heading (`sub`) or a choice or hint.
export const L = (label, sub = true) => bi(Lp(label), sub);
// For confirm(): the Vietnamese, a blank line, the English.
export const ask = (key, params) => pair(key, params).join('\n\n');

// An error from validate() or the server (whose `message` is "Vietnamese / English"), for
// field definition `f`, whose value in the form is `value`: what to write, where it can tell, as
// a [vi, en] pair.
export function errorText(e, f, value) {
  // A part of a geopoint (`vi_tri.lon`): which box, and for a range, the range.
  const part = f?.type === 'geopoint' ? /\.(lat|lon|alt|accuracy)$/.exec(e.path ?? '')?.[1] : null;
  if (part) {
    const limits = Array.isArray(e.limit) ? e.limit : GEO_RANGE[part];
    const words = e.code === 'range' && limits ? pair('e_range_between', { a: limits[0], b: limits[1] }) : errorText({ ...e, path: part }, null);
    const name = S[part] ?? [part, part];
    return words.map((w, i) => `${name[i]}: ${w}`);
  }
  const typed = typeof value === 'string' ? value.trim() : '';
  // "1.500" or "1 500": the Vietnamese way of writing thousands, not a whole number to a phone
  if (e.code === 'type' && f?.type === 'integer' && /^[+-]?\d{1,3}([.,\s]\d{3})+$/.test(typed))
    return pair('e_thousands', { v: typed.replace(/[.,\s]/g, '') });
  if (e.code === 'type' && f?.type === 'decimal' && DOT_THOUSANDS.test(typed)) {
    const n = String(Number(typed));
    return pair('e_dot_decimal', { v: typed, a: typed.replace('.', '').replace(/^\+/, ''), b: [n.replace('.', ','), n], c: n.replace('.', ',') });
  }
  if (e.code === 'format' && value === INCOMPLETE && (f?.type === 'date' || f?.type === 'datetime'))
    return pair(`e_incomplete_${f.type}`);
  if (e.code === 'type' && (f?.type === 'integer' || f?.type === 'decimal' || e.type === 'decimal'))
    return pair(f?.type === 'integer' ? 'e_type_integer' : 'e_type_decimal');
  if (e.code === 'pattern' && f?.pattern) {
    // "0912 345 678", "+84 912.345.678": right once written together
    const compact = typed.replace(/[\s.()-]/g, '').replace(/^\+84/, '0');
    if (compact !== typed && new RegExp(f.pattern, 'u').test(compact)) return pair('e_pattern_compact', { v: compact });
    if (f.hint) return pair('e_pattern').map((s, i) => `${s}: ${Lp(f.hint)[i]}`);
  }
  const limit =
    e.limit ??
    (e.code === 'max_length' ? f?.max_length : /^min/.test(e.code) ? f?.min : f?.max);
  // a decimal bound written the Vietnamese way in the Vietnamese (0,1), as the officer types it
  const bound = typeof limit === 'number' ? [String(limit).replace('.', ','), String(limit)] : limit;
  if (S[`e_${e.code}`] && (e.path || !e.message || ITEM_CODES.has(e.code))) return pair(`e_${e.code}`, { limit: bound });
  return pair('server_rejected', { m: e.message || e.code });
}

const pad = (n) => String(n).padStart(2, '0');
export function timeText(iso) {
  const d = new Date(iso);
  if (Number.isNaN(+d)) return iso ?? '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())} ${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${String(d.getFullYear()).padStart(4, '0')}`;
}
