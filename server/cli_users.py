"""`coso users`: add, list, disable and enable the people who use the server."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import click

from server import areas
from server.auth import add_user, new_token_for, set_disabled
from server.cli_db import DB_OPTION, open_store
from server.errors import ROLES_VI
from server.forms import UNSHOWN, nfc, shows_nothing
from server.store import Store
from server.store_schema import UserRow


# Letters and symbols to Unicode that show nothing (Hangul fillers, the blank Braille pattern)
def user_name(text: str) -> str:
    """A user's name as stored and looked up: NFC, each run of spaces inside one space, none
    around it (`Lê   Văn  Tám` is `Lê Văn Tám`)."""
    return " ".join(nfc(text).split())


def setup_link(url: str, token: str) -> str:
    return f"{url.rstrip('/')}/app/#token={token}"


def server_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --url checked: http:// or https://, a host, no query or fragment; a path is where a
    proxy serves coso (`https://example.vn/coso`, the app's URLs being relative to it), less
    a trailing `/` or `/app/` (the app's address given for the server's)."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (read for its ValueError: a port that is not one)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")  # urlsplit lowercases it
        or not parts.hostname
        or parts.port == 0
        or parts.username is not None  # a password in every setup link, and in phones' history
        or "?" in value
        or "#" in value
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise click.BadParameter(
            f"{value!r}: cần địa chỉ http:// hoặc https:// có tên máy, không có tên đăng nhập,"
            " ? hay # (ví dụ https://coso.example.vn) / an http:// or https:// address with a"
            " host, no user name, query or fragment (e.g. https://coso.example.vn)",
            ctx=ctx,
            param=param,
        )
    path = parts.path.rstrip("/")
    while path.lower().endswith("/app"):  # the app's address, given once or more, any case
        path = path[: -len("/app")].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


# `--url` of the commands that print a phone setup link
URL_OPTION = click.option(
    "--url",
    default="http://localhost:8000",
    show_default=True,
    envvar="COSO_URL",
    show_envvar=True,
    callback=server_url,
    help="Địa chỉ máy chủ cho liên kết cài đặt điện thoại / "
    "The server's address, for the phone setup link.",
)


def show_token(role: str, url: str, token: str) -> None:
    """A new token as `users add` and `users new-token` print it: an officer's phone setup link
    and its QR code (on standard error), then the token as the last line."""
    if role == "officer":
        import segno

        link = setup_link(url, token)
        click.echo(f"Phone setup link / Liên kết cài đặt điện thoại:\n{link}")
        segno.make(link, error="l").terminal(out=sys.stderr, compact=True)
    click.echo("Token (shown once / chỉ hiện một lần):")
    click.echo(token)


def area_label(area: str) -> str:
    """An area's code and official name, as `users add` prints them."""
    return f"{area} {areas.name(area) or ''}".strip() or "(all areas / toàn quốc)"


def parse_area(area: str) -> str:
    """An --area as given on the command line, checked: a one-line refusal in both languages."""
    try:
        return areas.parse(area)
    except areas.AreaError as exc:
        raise click.BadParameter(f"{exc} / mã địa bàn không hợp lệ", param_hint="--area") from exc


def warn_unofficial(area: str) -> None:
    """A warning on standard error for an area outside the official registry."""
    if area and not areas.is_official(area):
        click.echo(
            f"warning / cảnh báo: {area} không phải mã địa bàn chính thức, vẫn được chấp nhận "
            "(thí điểm, kiểm thử) / is not an official area code (accepted for pilots and tests)",
            err=True,
        )


@click.group()
def users() -> None:
    """Người dùng / Users."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["officer", "supervisor", "admin"]),
    required=True,
    help="Vai trò / Role: officer (cán bộ), supervisor (giám sát), admin (quản trị).",
)
@click.option(
    "--area",
    required=True,
    help="Mã địa bàn / Area path, e.g. 01.00070 ('' for an admin of all areas / toàn quốc).",
)
@URL_OPTION
@DB_OPTION
def users_add(name: str, role: str, area: str, url: str, db: str) -> None:
    """Tạo người dùng / Create a user; the token is the last line of the output."""
    name = name.strip()
    bad = UNSHOWN.search(name)
    if bad is not None:  # shown in the audit log, the app's header and every submission
        raise click.BadParameter(
            f"U+{ord(bad[0]):04X} at character {bad.start() + 1} is a control or direction"
            " character, not text / tên có ký tự điều khiển, không phải chữ",
            param_hint="NAME",
        )
    name = user_name(name)
    if shows_nothing(name):
        raise click.BadParameter(
            "cần có tên, bằng chữ nhìn thấy được / a name is needed, in visible characters",
            param_hint="NAME",
        )
    if role == "admin" and area not in ("", "*"):  # PROTOCOL: an admin is everything
        raise click.BadParameter(
            "an admin sees every area: give --area '' / quản trị viên quản lý mọi địa bàn: "
            "dùng --area ''",
            param_hint="--area",
        )
    area = "" if role == "admin" else parse_area(area)
    warn_unofficial(area)
    if role == "officer" and areas.is_official(area) and "." not in area:
        click.echo(
            f"warning / cảnh báo: {area} là mã tỉnh, thành phố; cán bộ thường gắn với một xã, "
            "phường, vẫn được chấp nhận (chỉ thấy bản ghi của chính địa bàn này) / is a "
            "province: an officer is normally bound to a commune (accepted; it sees only "
            "records of this very area)",
            err=True,
        )
    with open_store(db, create=True) as store:
        user, token = add_user(store, name, role, area)
    where = areas.name(area) or ("(all areas / toàn quốc)" if not area else "")
    made = f"{user.role} / {ROLES_VI[user.role]}: {user.name}"
    click.echo(f"{made} — area / địa bàn {area} {where}".rstrip())
    show_token(user.role, url, token)


@users.command("list")
@DB_OPTION
def users_list(db: str) -> None:
    """Danh sách người dùng / List the users: id, name, role, area, when made, disabled or not."""
    with open_store(db) as store:
        rows = store.user_rows()
    if not rows:
        click.echo("chưa có người dùng / no users yet")
        return
    table = [
        (
            "id",
            "tên / name",
            "vai trò / role",
            "địa bàn / area",
            "tạo lúc / created",
            "trạng thái / status",
        ),
        *(
            (
                str(u.id),
                u.name if u.name.isprintable() else repr(u.name),  # one line per user, always
                u.role,
                area_label(u.area),
                u.created_at,
                "đã khóa / disabled" if u.disabled else "hoạt động / active",
            )
            for u in rows
        ),
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def find_user(store: Store, key: str) -> UserRow:
    """USER of `users disable`/`enable`: the user with that id, else the one user of that
    name. An id always names one user; a name two users share is refused, not guessed at."""
    key = user_name(key)
    if key.isascii() and key.isdigit() and len(key) < 19:  # within SQLite's integers
        found = store.user_rows(user_id=int(key))
        if found:
            return found[0]
    # read as stored names are: one an older coso stored with runs of spaces is found too
    found = [u for u in store.user_rows() if user_name(u.name) == key]
    if not found:
        raise click.BadParameter(
            f"no user has the id or name {key!r} (see coso users list)"
            " / không có người dùng nào có mã số hoặc tên này (xem coso users list)",
            param_hint="USER",
        )
    if len(found) > 1:
        ids = ", ".join(str(u.id) for u in found)
        raise click.BadParameter(
            f"{len(found)} users are named {key!r} (ids {ids}): give the id"
            f" / {len(found)} người dùng có tên này (mã số {ids}): hãy dùng mã số",
            param_hint="USER",
        )
    return found[0]


def change_user(key: str, db: str, *, disabled: bool) -> None:
    with open_store(db) as store:
        user = find_user(store, key)
        changed = set_disabled(store, user, disabled)
    who = f"{user.id} {user.name} — {user.role}, {area_label(user.area)}"
    if disabled and changed:
        click.echo(
            f"đã khóa / disabled: {who}; mã truy cập bị từ chối từ bây giờ"
            " / its token is refused from now on"
        )
    elif disabled:
        click.echo(f"đã khóa từ trước, không thay đổi / already disabled, nothing changed: {who}")
    elif changed:
        click.echo(
            f"đã mở khóa / enabled: {who}; mã truy cập dùng lại được / its token works again"
        )
    else:
        click.echo(f"không bị khóa, không thay đổi / not disabled, nothing changed: {who}")


@users.command("new-token")
@click.argument("user")
@URL_OPTION
@DB_OPTION
def users_new_token(user: str, url: str, db: str) -> None:
    """Cấp mã truy cập mới / A new token for a user whose link leaked: the old token is
    refused at once, from a running server too; the account stays the same, and a phone set
    up again with the new link keeps what it holds. USER: an id (see `coso users list`) or a
    name. The token is the last line of the output."""
    with open_store(db) as store:
        row = find_user(store, user)
        token = new_token_for(store, row)
    click.echo(
        f"mã truy cập mới / new token: {row.id} {row.name} — {row.role}, {area_label(row.area)};"
        " mã cũ bị từ chối từ bây giờ / the old one is refused from now on"
    )
    if row.disabled:
        click.echo(
            "warning / cảnh báo: người dùng đang bị khóa, mở khóa bằng coso users enable"
            " / the user is disabled: coso users enable lets it sign in",
            err=True,
        )
    show_token(row.role, url, token)


@users.command("disable")
@click.argument("user")
@DB_OPTION
def users_disable(user: str, db: str) -> None:
    """Khóa người dùng / Disable a user (a lost phone): its token gets 401 at once, from a
    running server too. USER: an id (see `coso users list`) or a name."""
    change_user(user, db, disabled=True)


@users.command("enable")
@click.argument("user")
@DB_OPTION
def users_enable(user: str, db: str) -> None:
    """Mở khóa người dùng / Enable a disabled user again: the same token works again.
    USER: an id (see `coso users list`) or a name."""
    change_user(user, db, disabled=False)
