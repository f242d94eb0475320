"""Every HTTP test runs under two checks: no response is a 5xx, and every 4xx is problem+json
with the one error shape (`type`, `title`, `status` = the HTTP status, `detail`, and
`errors[].path/code/message` when there are errors)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import assert_problem


def _check(response: httpx.Response) -> None:
    if response.status_code >= 400:  # only errors are read here: streamed bodies stay streamed
        response.read()
        assert response.status_code < 500, f"{response.request.url}: {response.text}"
        if response.request.method != "HEAD":  # the GET's status and headers, no body
            assert_problem(response, response.status_code)


@pytest.fixture
def api(api: Any) -> Any:
    api.client.event_hooks["response"].append(_check)
    return api
