"""Forms API: the manifest devices poll, immutable versions, and publishing (admin)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from anyio.to_thread import run_sync
from litestar import Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter

from server.api.body import header_list, is_msgpack, read_body, respond, wants_msgpack
from server.api.deps import CatalogDep
from server.api.docs import FORM_EXAMPLE, JSON, MSGPACK, YAML, Cached, body, errors
from server.auth import admin_only, officer_or_above
from server.errors import Invalid, Malformed, NotFound
from server.form_source import DefinitionError, read_source, refuse_msgpack_twice
from server.forms import FormDef, parse_definition
from server.protocol import MAX_FORM_BYTES, FieldError, FormManifest, PublishResult
from server.web import none_match

VERSION_RE = re.compile(r"[1-9][0-9]{0,8}\Z")  # ASCII digits, no leading zero
NOT_MODIFIED = {304: ResponseSpec(None, description="Unchanged since the ETag in If-None-Match")}
# A conditional GET (RFC 9110 13.1.2): the ETag a previous answer carried; 304 if it still holds.
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match", description="An ETag from an earlier answer: 304 if unchanged"
    ),
]


@get(
    "/forms",
    guards=[officer_or_above],
    sync_to_thread=True,  # a publish seen here (catalog.reload) compiles its form
    operation_class=Cached,
    responses={**errors(400), **NOT_MODIFIED},  # 400: an If-None-Match that cannot be read
)
def manifest(
    request: Request[Any, Any, Any], catalog: CatalogDep, if_none_match: IfNoneMatch = None
) -> Response[FormManifest]:
    """The latest version of each form. Send `If-None-Match` to get 304 when nothing changed."""
    catalog.reload()
    forms = catalog.manifest()
    etag = _etag(request, catalog.etag())
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept"}
    if _not_modified(request, etag):
        return Response(b"", status_code=304, headers=headers)  # type: ignore[arg-type]
    return respond(request, FormManifest(forms), headers=headers)


def _etag(request: Request[Any, Any, Any], tag: str) -> str:
    """A strong ETag per representation: the MessagePack one differs from the JSON one."""
    return f'"{tag}-msgpack"' if wants_msgpack(request) else f'"{tag}"'


def _not_modified(request: Request[Any, Any, Any], etag: str) -> bool:
    """If-None-Match (RFC 9110 13.1.2): `*`, or a list of tags (weak ones compare too), on
    one line or several (the `if_none_match` parameter documents it, and holds the first)."""
    return none_match(header_list(request, "if-none-match"), etag)


@get(
    "/forms/{form_id:str}/versions/{version:str}",
    guards=[officer_or_above],
    sync_to_thread=True,  # a publish seen here (catalog.reload) compiles its form
    operation_class=Cached,
    responses={**errors(400, 404), **NOT_MODIFIED},
)
def form_version(
    request: Request[Any, Any, Any],
    catalog: CatalogDep,
    form_id: FromPath[str],
    version: FromPath[str],
    if_none_match: IfNoneMatch = None,
) -> Response[dict[str, Any]]:
    """One version's definition with `version` and `sha256`; immutable, cached for a year."""
    catalog.reload()
    fv = catalog.get(form_id)
    # One URL per version, cached for a year: `2`, not `02`, `+2`, `2_0` or a fullwidth two,
    # which int() reads too. Any other text, or a version never published, is a 404.
    number = int(version) if VERSION_RE.match(version) else 0
    if fv is None or not 1 <= number <= fv.latest:
        said = f"no version {version} of form {form_id!r}"
        raise NotFound(
            said,
            code="unknown_form",
            vi=f"Không có phiên bản {version} của biểu mẫu {form_id!r}",
            errors=[
                FieldError("form_id", "unknown_form", f"no form {form_id!r}")
                if fv is None
                else FieldError("version", "unknown_version", said)
            ],
        )
    # the definition's hash and the answer's own form: `renames` came into it later, so a
    # copy kept from before is not current (`-2`), though the version never changed
    etag = _etag(request, f"{fv.shas[number - 1]}-2")
    # private: the answer needs a token, so a shared cache must not keep it
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=31536000, immutable",
        "Vary": "Accept",
    }
    if _not_modified(request, etag):
        return Response(b"", status_code=304, headers=headers)  # type: ignore[arg-type]
    if wants_msgpack(request):
        return respond(request, msgspec.Raw(fv.docs[number - 1]), headers=headers)
    # the version's JSON as encoded once at load, where the annotation documents its shape
    doc = fv.docs[number - 1]
    return Response(doc, media_type="application/json", headers=headers)  # type: ignore[arg-type]


@post(
    "/forms",
    guards=[admin_only],
    status_code=201,
    operation_class=body(FormDef, JSON, YAML, MSGPACK, example=FORM_EXAMPLE),
    responses={
        200: ResponseSpec(PublishResult, description="Identical to the latest version: unchanged"),
        **errors(400, 403, 408, 413, 415, 422, 503),
    },
)
async def publish(request: Request[Any, Any, Any], catalog: CatalogDep) -> Response[PublishResult]:
    """Publish a definition (JSON, YAML or MessagePack) as the next version; identical to the
    latest: 200."""
    msgpack = is_msgpack(request, yaml=True)
    body = await read_body(request, MAX_FORM_BYTES)
    user = request.user
    if not body.strip():
        raise Malformed("the body is empty: send a form definition", code="malformed_body")
    try:
        if msgpack:
            try:
                source = msgspec.msgpack.decode(body)
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
                raise Malformed(
                    f"the body is not valid MessagePack: {exc}", code="malformed_body"
                ) from exc
            refuse_msgpack_twice(body, source)
        else:
            source = read_source(body)
        # in a thread: checking a text pattern runs probes in a child process (server/redos.py)
        form = await run_sync(parse_definition, source)
        result, created = await run_sync(catalog.publish, form, user.id, user.name)
    except DefinitionError as exc:
        if [e.code for e in exc.errors] == ["syntax"]:  # not YAML or JSON at all
            # 400, and the entry with its code and line, as for the CLI
            raise Malformed(
                exc.errors[0].message, code="malformed_body", errors=exc.errors
            ) from exc
        if [e.code for e in exc.errors] == ["malformed"]:  # not Unicode text (read_source)
            raise Malformed(
                "the body is not Unicode text: half of a UTF-16 surrogate pair (an emoji cut "
                f"in two) at {exc.errors[0].path or 'its top'}",
                code="malformed_body",
                errors=exc.errors,
            ) from exc
        raise Invalid(
            "the form definition has problems", errors=exc.errors, code="invalid_definition"
        ) from exc
    return respond(request, result, status=201 if created else 200)
