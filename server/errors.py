"""Our domain errors: each carries its HTTP status and the RFC 9457 fields it maps to.

Conflicts between field values are data, not errors; these are for requests that are
malformed, not allowed, or stale. `app.py` turns every exception into problem+json.
"""

from __future__ import annotations

from server.protocol import FieldError

TITLES = {
    400: "Yêu cầu sai định dạng / Malformed request",
    401: "Chưa xác thực / Not authenticated",
    403: "Không có quyền / Forbidden",
    404: "Không tìm thấy / Not found",
    405: "Phương thức không được hỗ trợ / Method not allowed",
    408: "Hết thời gian chờ / Request timeout",
    409: "Xung đột trạng thái / Conflict with the current state",
    413: "Dữ liệu quá lớn / Request body too large",
    415: "Kiểu dữ liệu không hỗ trợ / Unsupported media type",
    422: "Dữ liệu không hợp lệ / Invalid content",
    429: "Quá nhiều yêu cầu / Too many requests",
    499: "Máy khách đã ngắt kết nối / Client closed request",
    500: "Lỗi máy chủ / Internal server error",
}


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class Malformed(ApiError):
    status, code = 400, "malformed"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Stale(ApiError):
    status, code = 409, "stale"


class TooLarge(ApiError):
    status, code = 413, "too_large"


class UnsupportedMedia(ApiError):
    status, code = 415, "unsupported_media_type"


class Invalid(ApiError):
    status, code = 422, "invalid"
