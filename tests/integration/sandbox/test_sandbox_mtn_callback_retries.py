"""MTN's callback rule over real HTTP: 2 s to answer, else re-sent (1 s apart at first);
a slow receiver can be blocked meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest
from sandbox_mtn_wire import auth, request_to_pay

from synccash.sandbox import MTN_CALLBACK_RETRIES, CallbackRetries, serving
from synccash.sandbox._asgi import Receive, Response, Scope, Send, read_request, send_response

pytestmark = pytest.mark.integration

PAYER = "233241234567"


class StallingReceiver:
    """Answers the first `stalls` requests after `stall_seconds`, or with `status`; then 200."""

    def __init__(self, stalls: int, *, stall_seconds: float = 0.0, status: int = 200) -> None:
        self.stalls, self.stall_seconds, self.status = stalls, stall_seconds, status
        self.arrivals: list[tuple[float, str]] = []
        self.event = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        request = await read_request(scope, receive)
        self.arrivals.append((time.monotonic(), request.path))
        self.event.set()
        answer = 200
        if len(self.arrivals) <= self.stalls:
            await anyio.sleep(self.stall_seconds)
            answer = self.status
        await send_response(send, Response.json(answer, {"ok": answer == 200}))

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[float, str]]:
        """Wait (bounded) until `count` requests arrived."""
        with anyio.fail_after(timeout):
            while len(self.arrivals) < count:
                self.event = anyio.Event()
                await self.event.wait()
        return self.arrivals


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait (bounded) until the sandbox's own state says so (it has no event to wait on)."""
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polling the sandbox's plain lists
            await anyio.sleep(0.02)


def test_mtn_default_is_mtns_documented_schedule():
    """2 s timeout, 20 retries at 1 s, 30 at 2 min, then hourly."""
    intervals = list(MTN_CALLBACK_RETRIES.intervals())
    assert MTN_CALLBACK_RETRIES.timeout_seconds == 2.0
    assert (intervals[:20], intervals[20:50], intervals[50]) == ([1.0] * 20, [120.0] * 30, 3600.0)


async def test_a_receiver_that_stalls_past_2_s_gets_the_callback_again(http, mtn_url, mtn_sandbox):
    """The first delivery times out after 2 s; the same callback comes again ~1 s later."""
    receiver = StallingReceiver(1, stall_seconds=5.0)
    async with serving(receiver) as url:
        headers = await auth(http, mtn_url)
        await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb/mtn/1")
        (first, _), (second, _) = await receiver.wait_for(2)
    assert 2.5 < second - first < 5.0  # 2 s timeout + 1 s retry interval (+ scheduling)
    assert [taken for _, taken in mtn_sandbox.deliveries] == [False, True]
    assert mtn_sandbox.deliveries[0][0].body == mtn_sandbox.deliveries[1][0].body


async def test_error_answers_are_retried_until_taken(http, mtn_url, mtn_sandbox):
    """Two 500s, then 200: three deliveries of one callback, the last one taken."""
    receiver = StallingReceiver(2, status=500)
    async with serving(receiver) as url:
        headers = await auth(http, mtn_url)
        await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb/mtn/1")
        await receiver.wait_for(3)
        await until(lambda: len(mtn_sandbox.deliveries) == 3)
    assert [taken for _, taken in mtn_sandbox.deliveries] == [False, False, True]


async def test_a_blocked_receiver_gets_nothing_else_until_it_answers(http, mtn_url, mtn_sandbox):
    """With blocking on, a second callback to a host that missed one waits for the retry."""
    mtn_sandbox.config.callback_retries = CallbackRetries(
        2.0, ((5, 1.0),), block_slow_receivers=True
    )
    receiver = StallingReceiver(1, status=500)
    async with serving(receiver) as url:
        headers = await auth(http, mtn_url)
        await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb/mtn/1")
        await until(lambda: bool(mtn_sandbox.blocked_hosts))
        assert mtn_sandbox.blocked_hosts == {url.split("://", 1)[1]}
        await request_to_pay(http, mtn_url, headers, PAYER, callback=f"{url}/cb/mtn/2")
        await anyio.sleep(0.3)
        assert [path for _, path in receiver.arrivals] == ["/cb/mtn/1"]  # the second is held
        arrivals = await receiver.wait_for(3)
        await until(lambda: not mtn_sandbox.blocked_hosts)
    assert sorted(path for _, path in arrivals) == ["/cb/mtn/1", "/cb/mtn/1", "/cb/mtn/2"]
    assert mtn_sandbox.blocked_hosts == set()
