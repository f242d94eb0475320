// Every user-facing string, Vietnamese first; the EN toggle switches the whole UI and the
// form labels to English. t('key', {n: 3}) fills {n}.
const S = {
  app: ['Công tác cơ sở', 'Community security work'],
  lang_btn: ['EN', 'VI'],
  lang_title: ['Chuyển sang tiếng Anh', 'Switch to Vietnamese'],
  setup_title: ['Cài đặt thiết bị', 'Set up this phone'],
  setup_text: [
    'Mở đường dẫn cài đặt mà cán bộ quản trị gửi cho bạn, hoặc dán đường dẫn/mã vào đây.',
    'Open the setup link your administrator sent you, or paste the link or token here.',
  ],
  setup_input: ['Đường dẫn hoặc mã cài đặt', 'Setup link or token'],
  setup_btn: ['Cài đặt', 'Set up'],
  setup_bad: ['Mã không hợp lệ hoặc đã bị thu hồi.', 'The token is invalid or was revoked.'],
  setup_offline: ['Cần có mạng để cài đặt; máy chưa lưu gì. Hãy thử lại khi có mạng.', 'Setting up needs the network; nothing was kept. Try again when online.'],
  setup_other_user: [
    'Đường dẫn này của {new}, nhưng máy còn {n} mục chưa gửi của {old}. Hãy đồng bộ trước, hoặc lưu hộp thư đi ra tệp, rồi mở lại đường dẫn.',
    'This link is for {new}, but the phone still holds {n} unsent item(s) of {old}. Sync first, or save the outbox to a file, then open the link again.',
  ],
  forms: ['Biểu mẫu', 'Forms'],
  no_forms: ['Chưa tải được biểu mẫu. Bấm Đồng bộ khi có mạng.', 'No forms yet. Press Sync when online.'],
  drafts: ['Bản nháp', 'Drafts'],
  outbox: ['Hộp thư đi', 'Outbox'],
  cases: ['Vụ việc theo dõi', 'Follow-up cases'],
  tab_cases: ['Vụ việc', 'Cases'],
  back: ['‹ Quay lại', '‹ Back'],
  sync: ['Đồng bộ', 'Sync'],
  syncing: ['Đang đồng bộ…', 'Syncing…'],
  waiting: ['Chờ gửi: {n}', 'Waiting: {n}'],
  rejected_n: ['Bị từ chối: {n}', 'Rejected: {n}'],
  last_sync: ['Đồng bộ lần cuối: {t}', 'Last sync: {t}'],
  never: ['chưa', 'never'],
  offline: ['Không có mạng', 'Offline'],
  retry_at: ['Thử lại lúc {t}', 'Retrying at {t}'],
  err_network: ['Lỗi mạng, sẽ thử lại.', 'Network error, will retry.'],
  err_auth: ['Mã đăng nhập không còn hiệu lực. Mở lại đường dẫn cài đặt.', 'Your token is no longer valid. Open the setup link again.'],
  err_server: ['Máy chủ báo lỗi: {m}', 'Server error: {m}'],
  last_result: ['Lần gửi cuối: {r}', 'Last push: {r}'],
  st_accepted: ['đã nhận', 'accepted'],
  st_duplicate: ['đã có sẵn', 'duplicate'],
  st_conflict: ['có xung đột', 'conflict'],
  st_pending: ['chờ bản trước', 'pending'],
  st_rejected: ['bị từ chối', 'rejected'],
  st_queued: ['chờ gửi', 'waiting'],
  save: ['Lưu vào hộp thư đi', 'Save to outbox'],
  saved: ['Đã lưu. Sẽ gửi khi có mạng.', 'Saved. It will be sent when online.'],
  fix_errors: ['Còn {n} lỗi, xem các ô đánh dấu đỏ.', '{n} problem(s): see the fields marked in red.'],
  draft_saved: ['Bản nháp đã lưu {t}', 'Draft saved {t}'],
  delete_draft: ['Xoá bản nháp', 'Delete draft'],
  confirm_delete: ['Xoá bản nháp này?', 'Delete this draft?'],
  version: ['phiên bản {v}', 'version {v}'],
  old_version: ['Bản nháp dùng phiên bản cũ {v} của biểu mẫu.', 'This draft uses the older version {v} of the form.'],
  yes: ['Có', 'Yes'],
  no: ['Không', 'No'],
  clear: ['Bỏ chọn', 'Clear'],
  choose: ['— Chọn —', '— Choose —'],
  add: ['+ Thêm mục', '+ Add item'],
  remove: ['Xoá mục', 'Remove item'],
  item: ['Mục {n}', 'Item {n}'],
  locate: ['Lấy vị trí hiện tại', 'Use my location'],
  locating: ['Đang lấy vị trí…', 'Getting location…'],
  located: ['Sai số khoảng {m} m', 'Accuracy about {m} m'],
  no_location: ['Không lấy được vị trí, hãy nhập tay.', 'Could not get the location: enter it by hand.'],
  lat: ['Vĩ độ', 'Latitude'],
  lon: ['Kinh độ', 'Longitude'],
  required_mark: ['bắt buộc', 'required'],
  outbox_empty: ['Hộp thư đi trống.', 'The outbox is empty.'],
  export: ['Lưu hộp thư đi ra tệp', 'Save outbox to file'],
  fix: ['Sửa', 'Fix'],
  rejected_note: ['Máy chủ từ chối, cần sửa rồi lưu lại.', 'The server rejected it: fix and save again.'],
  no_cases: ['Chưa có vụ việc nào. Bấm Đồng bộ để tải.', 'No cases yet. Press Sync to download them.'],
  edit: ['Cập nhật', 'Update'],
  conflicts: ['Xung đột chưa giải quyết', 'Unsettled conflicts'],
  conflict_badge: ['⚠ xung đột', '⚠ conflict'],
  unsent: ['có sửa đổi chưa gửi', 'unsent changes'],
  competing: ['Các giá trị khác nhau:', 'Competing values:'],
  by_device: ['{d}, {t}', '{d}, {t}'],
  device_n: ['máy {d}', 'device {d}'],
  this_phone: ['máy này', 'this phone'],
  updated: ['Cập nhật {t}', 'Updated {t}'],
  server_rejected: ['Máy chủ từ chối: {m}', 'Server rejected: {m}'],
  e_required: ['Bắt buộc nhập', 'Required'],
  e_type_integer: ['Nhập một số nguyên', 'Enter a whole number'],
  e_type_decimal: ['Nhập một số', 'Enter a number'],
  e_type: ['Giá trị không đúng kiểu', 'Wrong kind of value'],
  e_min: ['Không được nhỏ hơn {limit}', 'Must be at least {limit}'],
  e_max: ['Không được lớn hơn {limit}', 'Must be at most {limit}'],
  e_max_length: ['Tối đa {limit} ký tự', 'At most {limit} characters'],
  e_pattern: ['Không đúng định dạng', 'Wrong format'],
  e_format: ['Ngày giờ không hợp lệ', 'Not a valid date or time'],
  e_choice: ['Lựa chọn không hợp lệ', 'Not one of the choices'],
  e_duplicate: ['Chọn trùng lặp', 'Selected twice'],
  e_min_items: ['Cần ít nhất {limit} mục', 'At least {limit} items'],
  e_max_items: ['Tối đa {limit} mục', 'At most {limit} items'],
  e_range: ['Ngoài phạm vi cho phép', 'Out of range'],
  e_malformed: ['Có ký tự hỏng (nửa biểu tượng cảm xúc)', 'A broken character (half an emoji)'],
  e_control_character: ['Có ký tự điều khiển không hợp lệ', 'Contains an invalid control character'],
  e_unknown_field: ['Trường không có trong biểu mẫu', 'Not a field of this form'],
  // Whole-submission refusals a phone can meet (PROTOCOL.md, push).
  e_unknown_form: ['Máy chủ không có biểu mẫu này', 'The server has no such form'],
  e_unknown_version: ['Máy chủ không có phiên bản biểu mẫu này', 'The server has no such form version'],
  e_id_reused: ['Mã bản ghi này đã dùng cho nội dung khác', 'This id was already used for other content'],
  e_forbidden: ['Hồ sơ ngoài địa bàn của bạn', 'The record is outside your area'],
  e_form_mismatch: ['Hồ sơ thuộc biểu mẫu khác', 'The record belongs to another form'],
  e_other_record: ['Bản trước thuộc hồ sơ khác', 'A parent belongs to another record'],
};
// Codes that are about the whole submission; other codes without a field are the server's
// words (a bad `captured_at`, say), not a field's.
const ITEM_CODES = new Set(['unknown_form', 'unknown_version', 'id_reused', 'forbidden', 'form_mismatch', 'other_record']);

export let lang = localStorage.getItem('coso.lang') === 'en' ? 'en' : 'vi';

export function setLang(value) {
  lang = value;
  localStorage.setItem('coso.lang', value);
  document.documentElement.lang = value;
}

export function t(key, params = {}) {
  const s = S[key]?.[lang === 'en' ? 1 : 0] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => params[k] ?? '');
}

// A {vi, en} label from a form definition.
export const L = (label) => label?.[lang] || label?.vi || label?.en || '';

// An error from validate() or the server (whose `message` is "Vietnamese / English"), for
// field definition `f`.
export function errorText(e, f) {
  if (e.code === 'type' && (f?.type === 'integer' || f?.type === 'decimal' || e.type === 'decimal'))
    return t(f?.type === 'integer' ? 'e_type_integer' : 'e_type_decimal');
  const limit =
    e.limit ??
    (e.code === 'max_length' ? f?.max_length : /^min/.test(e.code) ? f?.min : f?.max);
  if (S[`e_${e.code}`] && (e.path || !e.message || ITEM_CODES.has(e.code))) return t(`e_${e.code}`, { limit });
  return t('server_rejected', { m: e.message || e.code });
}

const pad = (n) => String(n).padStart(2, '0');
export function timeText(iso) {
  const d = new Date(iso);
  if (Number.isNaN(+d)) return iso ?? '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())} ${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()}`;
}
