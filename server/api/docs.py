"""What the OpenAPI document says about the parts that handlers do by hand: request bodies
(read by `body.py` for gzip, MessagePack and size caps, so litestar never sees their type),
answers in MessagePack (`body.respond`), and the problem+json errors that `app.problem`
sends with their headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from msgspec import Meta

from server.errors import TITLES
from server.protocol import MAX_BATCH_ITEMS, Problem, Submission

PROBLEM_JSON = "application/problem+json"
JSON, MSGPACK, YAML = "application/json", "application/msgpack", "application/yaml"


class PushRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The push envelope as clients send it (`PushEnvelope` decodes each item on its own).
    `exported_at`, `rejected`, `held` and `drafts` are what the app's outbox file adds: it is
    a push body as it is, and they are read past."""

    device_id: Annotated[str, Meta(min_length=1, max_length=200)]
    submissions: Annotated[list[Submission], Meta(max_length=MAX_BATCH_ITEMS)]
    exported_at: Any = None
    rejected: Any = None
    held: Any = None
    drafts: Any = None


# What `app.problem` sends with these statuses.
PROBLEM_HEADERS = {
    401: {"WWW-Authenticate": "`Bearer`"},
    429: {"Retry-After": "Seconds to wait (60) before trying again"},
    503: {"Retry-After": "Seconds to wait before sending the same request again"},
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem+json responses of an authenticated endpoint: `statuses`, and the 401 and
    429 that any call with a bad token can get. An endpoint that writes adds 503 (`busy`:
    another writer held the database past the wait; nothing was stored)."""
    return {
        status: ResponseSpec(
            Problem, description=TITLES[status], media_type=PROBLEM_JSON, generate_examples=False
        )
        for status in sorted({401, 429, *statuses})
    }


@dataclass
class ApiOperation(Operation):
    """An operation of the API: every JSON answer also comes as MessagePack to a client whose
    `Accept` prefers it (`body.respond`), with the same shape; the Retry-After and
    WWW-Authenticate that go with some errors."""

    def __post_init__(self) -> None:
        for status, response in (self.responses or {}).items():
            if not isinstance(response, OpenAPIResponse):
                continue
            content = response.content or {}
            if status.startswith("2") and JSON in content:
                content[MSGPACK] = OpenAPIMediaType(schema=content[JSON].schema)
            for name, description in PROBLEM_HEADERS.get(int(status), {}).items():
                response.headers = {
                    **(response.headers or {}),
                    name: OpenAPIHeader(
                        schema=Schema(type=OpenAPIType.STRING),
                        description=description,
                        required=True,
                    ),
                }


@dataclass
class Cached(ApiOperation):
    """A GET that answers with an `ETag` (200 and 304 alike) for `If-None-Match`."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for status in ("200", "304"):
            response = (self.responses or {}).get(status)
            if isinstance(response, OpenAPIResponse):
                response.headers = {
                    **(response.headers or {}),
                    "ETag": OpenAPIHeader(
                        schema=Schema(type=OpenAPIType.STRING),
                        description="This representation's tag, for If-None-Match",
                        required=True,
                    ),
                }


def body(type_: Any, *media_types: str, example: Any = None) -> type[Operation]:
    """An operation class that documents a request body of `type_` read by hand."""
    schema = _inline(msgspec.json.schema(type_))
    content = {m: OpenAPIMediaType(schema=schema, example=example) for m in media_types}  # type: ignore[arg-type]  # a plain JSON Schema dict; litestar writes it out as is
    request_body = RequestBody(content=content, required=True)

    @dataclass
    class WithBody(ApiOperation):
        def __post_init__(self) -> None:
            self.request_body = request_body
            super().__post_init__()

    return WithBody


def files(*media_types: str) -> type[Operation]:
    """An operation class that documents a 200 that is a file in one of `media_types`."""
    content = {m: OpenAPIMediaType(schema={"type": "string"}) for m in media_types}  # type: ignore[arg-type]

    @dataclass
    class WithFiles(ApiOperation):
        def __post_init__(self) -> None:
            if self.responses and "200" in self.responses:
                self.responses["200"].content = content  # type: ignore[union-attr]
            super().__post_init__()

    return WithFiles


# Examples: the "examples" phase of the fuzz test sends them, so they must be real requests.
PUSH_EXAMPLE = {
    "device_id": "phone-8f3a",
    "submissions": [
        {
            "id": "0197a3c2-5b1e-7c3d-9a4f-2e6b8d0c1a35",
            "form_id": "tuyen_truyen",
            "form_version": 1,
            "record_id": None,
            "parents": [],
            "captured_at": "2026-03-14T09:30:00+07:00",
            "data": {
                "ngay_tuyen_truyen": "2026-03-14",
                "loai_dia_diem": "nha_van_hoa",
                "ten_dia_diem": "Nhà văn hóa tổ dân phố số 5",
                "chu_de": ["lua_dao_qua_mang", "phong_chong_ma_tuy"],
                "hinh_thuc": "hoi_nghi",
                "so_nguoi_tham_du": 85,
            },
        }
    ],
}
RESOLVE_EXAMPLE = {
    "heads": ["0197a3c2-5b1e-7c3d-9a4f-2e6b8d0c1a35"],
    "values": {"so_nguoi_tham_du": 90},
    "note": "Đã xác minh với tổ trưởng tổ dân phố / checked with the group leader",
}
FORM_EXAMPLE = {
    "form_id": "so_lieu_thang",
    "title": {"vi": "Số liệu tháng", "en": "Monthly figures"},
    "fields": [
        {
            "name": "thang",
            "type": "date",
            "label": {"vi": "Tháng", "en": "Month"},
            "required": True,
        },
        {
            "name": "so_vu_viec",
            "type": "integer",
            "label": {"vi": "Số vụ việc", "en": "Number of cases"},
            "min": 0,
        },
    ],
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """msgspec's schema with its `$defs` put in place: the OpenAPI document's own components
    are litestar's to write. A type that contains itself is inlined once, then left open."""
    defs = schema.pop("$defs", {})

    def walk(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return {"type": "object"} if name in seen else walk(defs[name], seen | {name})
        return {k: walk(v, seen) for k, v in node.items()}

    return walk(schema, frozenset())  # type: ignore[no-any-return]
