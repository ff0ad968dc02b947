"""One provider's sandbox: attempts, approval timing, ledger postings and callbacks.

Wire formats live in the per-provider app modules; this module only knows
money movements and timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import heapq
import itertools
import logging
import math
import random
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import anyio
import anyio.abc
import httpx
from attrs import define, field, frozen

from synccash.sandbox._callbacks import CallbackSender
from synccash.sandbox._faults import Faults
from synccash.sandbox._numbers import SUCCESS, ProviderName, Scenario, canonical, scenario_for
from synccash.sandbox._world import Ledger, LedgerEntry, SandboxWorld

_log = logging.getLogger(__name__)

Clock = Callable[[], float]
AttemptKind = Literal["collection", "disbursement", "refund"]
AttemptStatus = Literal["pending", "success", "failed"]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one costs ~0.15 s (CA bundle loading)."""
    return ssl.create_default_context()


class ManualClock:
    """A clock tests move by hand (epoch seconds)."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@frozen
class ApprovalDelay:
    """How long a payer takes to approve.

    Uniform in [min_seconds, max_seconds] by default. With ``median_seconds`` set, a
    log-normal with that median and spread ``sigma`` (about minutes with a long tail, as
    real payers: ``ApprovalDelay(5, 600, median_seconds=45, sigma=1.0)`` has a p90 near
    3 min), clipped to [min_seconds, max_seconds].
    """

    min_seconds: float = 0.0
    max_seconds: float = 0.0
    median_seconds: float | None = None
    sigma: float = 1.0

    def draw(self, rng: random.Random) -> float:
        """One delay."""
        if self.max_seconds <= self.min_seconds:
            return self.min_seconds
        if self.median_seconds is not None and self.median_seconds > 0:
            drawn = rng.lognormvariate(math.log(self.median_seconds), self.sigma)
            return min(self.max_seconds, max(self.min_seconds, drawn))
        return rng.uniform(self.min_seconds, self.max_seconds)


#: Payers as they are: a median of 45 s, one in ten after about 3 minutes, none after 10.
REALISTIC_APPROVAL: Final = ApprovalDelay(3.0, 600.0, median_seconds=45.0, sigma=1.0)


@frozen
class CallbackRetries:
    """How a provider re-sends a callback its receiver did not take in time.

    A delivery is taken when a 2xx answer arrives within ``timeout_seconds``; otherwise
    it is sent again after each interval of ``schedule`` (``(count, seconds)`` steps, in
    order). With ``block_slow_receivers``, a receiver host that missed a delivery is
    blocked: its other callbacks are held, not sent, until a retry to it is taken.
    """

    timeout_seconds: float = 10.0
    schedule: tuple[tuple[int, float], ...] = ()
    block_slow_receivers: bool = False

    def intervals(self) -> Iterator[float]:
        """The waits before each retry, in order."""
        for count, seconds in self.schedule:
            yield from itertools.repeat(seconds, count)


#: MTN's current rule: a 2-second timeout, then 20 retries 1 s apart, 30 two minutes
#: apart, then hourly (a day of them here).
MTN_CALLBACK_RETRIES = CallbackRetries(2.0, ((20, 1.0), (30, 120.0), (24, 3600.0)))


@frozen
class Callback:
    """One HTTP request the provider will make to the merchant."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


#: Builds a callback for an attempt; ``stale`` asks for a pending-type (out-of-order) one.
CallbackRenderer = Callable[["Attempt", bool], Callback | None]


@define
class Attempt:
    """A request the provider accepted: a collection, a disbursement or a refund."""

    kind: AttemptKind
    reference: str
    msisdn: str
    amount_minor: int
    currency: str
    scenario: Scenario
    created_at: float
    due_at: float | None
    provider_txn_id: str
    status: AttemptStatus = "pending"
    reason: str | None = None
    resolved_at: float | None = None
    refunded_minor: int = 0
    original_reference: str | None = None
    forced_reason: str | None = None
    #: What the provider charges for it (pesewas) and who pays: the merchant (taken from
    #: what it receives / added to what its float pays out) or the customer (on top).
    charges_minor: int = 0
    charges_bearer: Literal["merchant", "customer"] = "merchant"
    request: dict[str, Any] = field(factory=dict)
    extra: dict[str, Any] = field(factory=dict)
    renderer: CallbackRenderer | None = field(default=None, repr=False)

    @property
    def is_final(self) -> bool:
        """True once the attempt succeeded or failed."""
        return self.status != "pending"

    def to_json(self) -> dict[str, Any]:
        """JSON form used by the admin API."""
        return {
            "kind": self.kind,
            "reference": self.reference,
            "msisdn": self.msisdn,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "scenario": self.scenario.name,
            "status": self.status,
            "reason": self.reason,
            "provider_txn_id": self.provider_txn_id,
            "refunded_minor": self.refunded_minor,
            "charges_minor": self.charges_minor,
            "original_reference": self.original_reference,
            "created_at": self.created_at,
            "resolved_at": self.resolved_at,
        }


@define
class SandboxConfig:
    """Per-sandbox behaviour that is not a fault. Mutable at runtime (admin PUT /_admin/config).

    ``credentials`` holds the accepted secrets (keys depend on the provider, see
    each app module). ``ongoing_seconds`` is how long an "ongoing" test number
    stays pending after approval. ``merchant_balance_minor`` is the merchant's
    float: collections add to it, disbursements and refunds draw on it.
    """

    approval_delay: ApprovalDelay = ApprovalDelay()
    ongoing_seconds: float = 30.0
    merchant_balance_minor: int = 100_000_000
    credentials: dict[str, str] = field(factory=dict)
    options: dict[str, Any] = field(factory=dict)
    #: Per-number overrides of the test-number table (canonical number -> Scenario).
    scenarios: dict[str, Scenario] = field(factory=dict)
    #: Timeout and re-sends of callbacks (default: one try, 10 s; MTN: MTN_CALLBACK_RETRIES).
    callback_retries: CallbackRetries = CallbackRetries()
    #: Every final callback is sent once more this long after the first (None: never).
    duplicate_callback_after_seconds: float | None = None
    #: "production": requests only from ``allowed_sources`` (client IPs; empty = none)
    #: and only https callback URLs, so deployment mistakes show before go-live.
    profile: Literal["sandbox", "production"] = "sandbox"
    allowed_sources: tuple[str, ...] = ()

    @property
    def production(self) -> bool:
        """True under the production profile."""
        return self.profile == "production"


class TokenStore:
    """Bearer tokens a sandbox issued, each for one scope (e.g. an MTN product)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}

    def issue(self, scope: str, ttl_seconds: float) -> str:
        """A new opaque JWT-looking token valid for ``ttl_seconds``."""
        token = ".".join(secrets.token_urlsafe(n) for n in (18, 60, 32))
        self._tokens[token] = (scope, self._clock() + ttl_seconds)
        return token

    def valid(self, token: str, scope: str) -> bool:
        """True when the token exists, is for ``scope`` and has not expired."""
        found = self._tokens.get(token)
        return found is not None and found[0] == scope and self._clock() < found[1]

    def expire_all(self) -> None:
        """Make every issued token invalid (tests of refresh-on-401)."""
        self._tokens.clear()


class _Background:
    """Runs fire-and-forget work: in an anyio task group when one is open, else as asyncio tasks."""

    def __init__(self) -> None:
        self._group: anyio.abc.TaskGroup | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start_soon(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._group is not None:
            self._group.start_soon(self._run, fn)
            return
        task = asyncio.get_running_loop().create_task(self._run(fn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        # A failing timer or callback must never take the app's task group down with it.
        try:
            await fn()
        except Exception:
            _log.exception("sandbox background task failed")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def customer_charge(attempt: Attempt) -> int:
    """The part of an attempt's charge the customer pays on top (collections only)."""
    if attempt.kind == "collection" and attempt.charges_bearer == "customer":
        return attempt.charges_minor
    return 0


def merchant_charge(attempt: Attempt) -> int:
    """The part the merchant pays: taken from a collection, added to a payout from its float."""
    return attempt.charges_minor - customer_charge(attempt)


class ProviderSandbox:
    """The state of one provider's sandbox: attempts, its ledger, its faults.

    ``http_client`` sends callbacks (inject an ASGITransport client in embedded
    mode); ``clock`` returns epoch seconds (inject ``ManualClock`` in tests).
    """

    def __init__(
        self,
        provider: ProviderName,
        world: SandboxWorld | None = None,
        *,
        config: SandboxConfig | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
        seed: int = 0,
    ) -> None:
        self.provider: ProviderName = provider
        self.world = world if world is not None else SandboxWorld()
        self.config = config if config is not None else SandboxConfig()
        self._initial_config = copy.deepcopy(self.config)
        self.clock = clock
        self.ledger = Ledger()
        self.faults = Faults(seed=seed)
        self.faults.update(seed=seed)
        self.callbacks_sent: list[Callback] = []
        #: Every delivery try: (callback, taken) in the order they ended.
        self.deliveries: list[tuple[Callback, bool]] = []
        #: Receiver hosts blocked for missing a delivery (``block_slow_receivers``).
        self.blocked_hosts: set[str] = set()
        #: The provider's income from charges (wallets + merchant float + this is conserved).
        self.charges_minor = 0
        self._http = http_client
        self._owns_http = http_client is None
        #: Plain-http callbacks when no client was injected (a fraction of httpx's CPU).
        self._sender = CallbackSender(timeout=10.0)
        self._rng = random.Random(seed)
        self._attempts: dict[str, Attempt] = {}
        self._by_txn_id: dict[str, Attempt] = {}
        self._due: list[tuple[float, int, str]] = []  # (due_at, tiebreak, reference) min-heap
        self._ids = itertools.count(1)
        self._background = _Background()
        #: The one held callback per blocked host that is allowed to probe it.
        self._probe: dict[str, Callback] = {}
        self.tokens = TokenStore(self._now_seconds)
        #: Provider-specific state that outlives ``reset()`` (e.g. AT's RSA key pair).
        self.state: dict[str, Any] = {}

    # -- public Python API --------------------------------------------------------------------

    @property
    def transactions(self) -> tuple[Attempt, ...]:
        """Every accepted request, oldest first (settles due ones first)."""
        self.settle_due()
        return tuple(self._attempts.values())

    def set_faults(self, **changes: Any) -> Faults:
        """Change fault knobs at runtime (see ``Faults``)."""
        self.faults.update(**changes)
        return self.faults

    def scenario(self, msisdn: str) -> Scenario:
        """What a number does on this sandbox: a config override, else the test-number table."""
        key = canonical(msisdn) or msisdn
        return self.config.scenarios.get(key) or scenario_for(key)

    def start_outage(self, seconds: float | None = None) -> None:
        """Every provider request gets 503 for ``seconds`` (None: until ``end_outage``)."""
        until = None if seconds is None else self.clock() + seconds
        self.faults.update(outage=True, outage_until=until)

    def end_outage(self) -> None:
        """Back to normal service."""
        self.faults.update(outage=False, outage_until=None)

    def attempt(self, reference: str) -> Attempt | None:
        """The attempt for a request reference, settled if due."""
        found = self._attempts.get(reference)
        if found is not None:
            self._settle(found)
        return found

    def by_provider_txn_id(self, provider_txn_id: str) -> Attempt | None:
        """The attempt the provider gave this transaction id, settled if due."""
        found = self._by_txn_id.get(provider_txn_id)
        if found is not None:
            self._settle(found)
        return found

    def find(self, predicate: Callable[[Attempt], bool]) -> Attempt | None:
        """The first attempt matching ``predicate``."""
        self.settle_due()
        return next((a for a in self._attempts.values() if predicate(a)), None)

    def reset(self) -> None:
        """Forget attempts, ledger, faults, tokens and sent callbacks; restore the initial config.

        Wallets belong to the world (``world.reset()``).
        """
        self._attempts.clear()
        self._by_txn_id.clear()
        self._due.clear()
        self.ledger.clear()
        self.faults.reset()
        self.callbacks_sent.clear()
        self.deliveries.clear()
        self.blocked_hosts.clear()
        self.charges_minor = 0
        self.tokens.expire_all()
        self.config = copy.deepcopy(self._initial_config)

    def _now_seconds(self) -> float:
        return self.clock()

    def now(self) -> datetime:
        """The sandbox clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def new_txn_id(self, prefix: str = "") -> str:
        """A provider transaction id, unique within this sandbox."""
        return f"{prefix}{next(self._ids) + 1_000_000_000}"

    # -- accepting requests -------------------------------------------------------------------

    def accept(
        self,
        kind: AttemptKind,
        reference: str,
        msisdn: str,
        amount_minor: int,
        currency: str,
        *,
        provider_txn_id: str,
        renderer: CallbackRenderer | None = None,
        request: dict[str, Any] | None = None,
        original_reference: str | None = None,
        forced_reason: str | None = None,
        charges_minor: int = 0,
        charges_bearer: Literal["merchant", "customer"] = "merchant",
    ) -> Attempt:
        """Record an accepted request and schedule its resolution.

        ``forced_reason`` makes it fail with that reason whatever the number (e.g. a
        provider-side validation that only shows in the final state). ``charges_minor``
        is the provider's charge, posted with the money when it succeeds.
        """
        key = canonical(msisdn) or msisdn
        scenario = self.scenario(key) if kind != "refund" else SUCCESS
        now = self.clock()
        due: float | None = now
        if kind == "collection":
            due = now + self.config.approval_delay.draw(self._rng)
        if scenario.ongoing:
            due = (due or now) + self.config.ongoing_seconds
        if scenario.final is None:
            due = None
        attempt = Attempt(
            kind,
            reference,
            key,
            amount_minor,
            currency,
            scenario,
            now,
            due,
            provider_txn_id,
            request=request or {},
            renderer=renderer,
            original_reference=original_reference,
            forced_reason=forced_reason,
            charges_minor=charges_minor,
            charges_bearer=charges_bearer,
        )
        self._attempts[reference] = attempt
        self._by_txn_id[provider_txn_id] = attempt
        if due is not None and due <= now:
            self._settle(attempt)
        elif due is not None:
            heapq.heappush(self._due, (due, len(self._attempts), reference))
            self._background.start_soon(lambda: self._settle_later(attempt))
        return attempt

    def settle_due(self) -> None:
        """Resolve every pending attempt whose time has come (cheap: a heap of due times)."""
        now = self.clock()
        while self._due and self._due[0][0] <= now:
            _, _, reference = heapq.heappop(self._due)
            attempt = self._attempts.get(reference)
            if attempt is not None:
                self._settle(attempt)

    async def _settle_later(self, attempt: Attempt) -> None:
        if attempt.due_at is not None:
            await anyio.sleep(max(0.0, attempt.due_at - self.clock()))
        self._settle(attempt)

    def _settle(self, attempt: Attempt) -> None:
        if attempt.is_final or attempt.due_at is None or self.clock() < attempt.due_at:
            return
        if self._attempts.get(attempt.reference) is not attempt:
            return  # forgotten by a reset: its timer must not move money any more
        reason = self._refusal(attempt)
        if reason is None:
            self._post(attempt)
            attempt.status = "success"
        else:
            attempt.status, attempt.reason = "failed", reason
        attempt.resolved_at = self.clock()
        self._schedule_callbacks(attempt)

    def _refusal(self, attempt: Attempt) -> str | None:
        payee = attempt.kind != "collection"
        if attempt.forced_reason is not None:
            return attempt.forced_reason
        if attempt.kind == "refund":
            return self._refund_refusal(attempt)
        if attempt.scenario.final == "failed" and attempt.scenario.reason is not None:
            reason = attempt.scenario.reason
            return reason.replace("PAYER_NOT_FOUND", "PAYEE_NOT_FOUND") if payee else reason
        wallet = self.world.on_provider(attempt.msisdn, self.provider)
        if wallet is None:
            return "PAYEE_NOT_FOUND" if payee else "PAYER_NOT_FOUND"
        balance = self.config.merchant_balance_minor if payee else wallet.balance_minor
        charge = merchant_charge(attempt) if payee else customer_charge(attempt)
        if balance < attempt.amount_minor + charge:
            return "NOT_ENOUGH_FUNDS"
        return None

    def _refund_refusal(self, attempt: Attempt) -> str | None:
        original = self._attempts.get(attempt.original_reference or "")
        if original is None or original.kind != "collection" or original.status != "success":
            return "NOT_ALLOWED"
        if original.refunded_minor + attempt.amount_minor > original.amount_minor:
            return "NOT_ALLOWED"
        if self.config.merchant_balance_minor < attempt.amount_minor:
            return "NOT_ENOUGH_FUNDS"
        wallet = self.world.lookup(original.msisdn)
        if wallet is None:
            return "PAYEE_NOT_FOUND"
        return None

    def _post(self, attempt: Attempt) -> None:
        wallet = self.world.lookup(attempt.msisdn)
        if wallet is None:  # pragma: no cover - _refusal checked it
            return
        kind: Literal["debit", "credit", "refund"]
        if attempt.kind == "collection":
            kind = "debit"
            wallet.balance_minor -= attempt.amount_minor + customer_charge(attempt)
            self.config.merchant_balance_minor += attempt.amount_minor - merchant_charge(attempt)
        else:
            kind = "credit" if attempt.kind == "disbursement" else "refund"
            wallet.balance_minor += attempt.amount_minor
            self.config.merchant_balance_minor -= attempt.amount_minor + merchant_charge(attempt)
            if attempt.kind == "refund":
                original = self._attempts[attempt.original_reference or ""]
                original.refunded_minor += attempt.amount_minor
        self.charges_minor += attempt.charges_minor
        self.ledger.append(
            LedgerEntry(
                self.provider,
                kind,
                wallet.msisdn,
                attempt.amount_minor,
                attempt.reference,
                attempt.provider_txn_id,
                self.now(),
            )
        )

    # -- callbacks ----------------------------------------------------------------------------

    def _schedule_callbacks(self, attempt: Attempt) -> None:
        if attempt.renderer is None:
            return
        final = attempt.renderer(attempt, False)  # noqa: FBT003
        if final is None or self.faults.roll(self.faults.drop_callback_rate):
            return
        sends: list[tuple[float, Callback]] = [(0.0, final)]
        duplicate = self.faults.roll(self.faults.duplicate_callback_rate)
        if duplicate:
            sends.append((self.faults.duplicate_delay_seconds, final))
        if self.faults.roll(self.faults.out_of_order_callback_rate):
            stale = attempt.renderer(attempt, True)  # noqa: FBT003
            if stale is not None:
                sends.append((0.0, stale))
        if not duplicate and self.config.duplicate_callback_after_seconds is not None:
            # The provider's own habit (MTN: the same body again ~3 min after a 200 ack).
            sends.append((self.config.duplicate_callback_after_seconds, final))
        self._background.start_soon(lambda: self._deliver(sends))

    async def _deliver(self, sends: list[tuple[float, Callback]]) -> None:
        for delay, callback in sends:
            if delay:
                await anyio.sleep(delay)
            self._background.start_soon(functools.partial(self._deliver_one, callback))

    async def _deliver_one(self, callback: Callback) -> None:
        """Send one callback, and re-send it as ``config.callback_retries`` says."""
        policy = self.config.callback_retries
        host = urlsplit(callback.url).netloc
        blocked = policy.block_slow_receivers and host in self.blocked_hosts
        if not blocked and await self._try(callback, policy.timeout_seconds):
            return
        if policy.block_slow_receivers:
            self.blocked_hosts.add(host)
        for wait in policy.intervals():
            await anyio.sleep(wait)
            if (
                policy.block_slow_receivers
                and host in self.blocked_hosts
                and callback is not self._probe.get(host, callback)
            ):
                continue  # another callback is probing the blocked host; this one is held
            self._probe.setdefault(host, callback)
            taken = await self._try(callback, policy.timeout_seconds)
            if self._probe.get(host) is callback:
                del self._probe[host]
            if taken:
                self.blocked_hosts.discard(host)
                return

    async def _try(self, callback: Callback, timeout: float) -> bool:  # noqa: ASYNC109
        """One delivery: True when a 2xx answer came back within ``timeout`` seconds.

        Whatever the merchant's endpoint does (refuse, time out, bad URL), the provider
        has "sent" it: delivery failures are the merchant's problem, as in production.
        """
        self.callbacks_sent.append(callback)
        status = 0
        with contextlib.suppress(Exception), anyio.fail_after(timeout):
            if self._owns_http and CallbackSender.handles(callback.url):
                status = await self._sender.send(
                    callback.method, callback.url, callback.headers, callback.body
                )
            else:
                response = await self._client().request(
                    callback.method,
                    callback.url,
                    headers=callback.headers,
                    content=callback.body,
                )
                status = response.status_code
        taken = 200 <= status < 300
        self.deliveries.append((callback, taken))
        return taken

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, verify=_tls_context())
        return self._http

    # -- lifecycle ----------------------------------------------------------------------------

    def running(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Open the task group that runs approval timers and callbacks (app lifespan)."""
        return self._background.running()

    async def aclose(self) -> None:
        """Cancel background work and close the callback client if this sandbox built it."""
        await self._background.aclose()
        await self._sender.aclose()
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
