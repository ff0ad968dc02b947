"""The chaos load: a seeded mix of payments, driven through the merchant API like a real client.

A client retries a POST that got no answer (timeout, connection refused, 5xx)
with the *same* Idempotency-Key until it gets one; every 202 it receives is a
promise the run later checks was kept.
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from typing import Any, Final

import anyio
import httpx
from attrs import define, field, frozen

#: Network prefixes the sandboxes and SyncCash agree on.
PREFIXES: Final = {
    "mtn": ("24", "54", "55"),
    "airteltigo": ("26", "27", "57"),
    "telecel": ("20", "50"),
}
POOR_BALANCE_MINOR: Final = 50  # GHS 0.50: every payment in the mix is larger
#: The merchant's own account (_run.MERCHANT): a merchant collects only into itself.
PAYEE_ACCOUNT: Final = "chaos-merchant"


class Scenario(enum.StrEnum):
    """What a planned payment is meant to exercise."""

    SUCCESS = "success"  # default wallet, pays
    TWO_WALLETS = "two_wallets"  # two rich wallets on different networks
    FAILOVER = "failover"  # a poor wallet and a rich one: insufficient funds -> next wallet
    INSUFFICIENT = "insufficient"  # one poor wallet: FAILED
    REJECTED = "rejected"  # payer rejects the prompt (0XX0000001)
    EXPIRED = "expired"  # payer lets the prompt expire (0XX0000002)
    CANCEL = "cancel"  # merchant cancels right after 202
    REFUND = "refund"  # merchant refunds once CONFIRMED (full, or half for odd amounts)


_WEIGHTS: Final = {
    Scenario.SUCCESS: 40,
    Scenario.TWO_WALLETS: 12,
    Scenario.FAILOVER: 14,
    Scenario.INSUFFICIENT: 6,
    Scenario.REJECTED: 8,
    Scenario.EXPIRED: 6,
    Scenario.CANCEL: 6,
    Scenario.REFUND: 8,
}


@frozen
class Planned:
    """One payment of the mix: the request body and what to do with it afterwards."""

    n: int
    scenario: Scenario
    body: dict[str, Any]
    poor_wallets: tuple[tuple[str, str], ...] = ()  # (provider, msisdn) to register poor


def _number(rng: random.Random, provider: str) -> str:
    prefix = rng.choice(PREFIXES[provider])
    return f"0{prefix}{rng.randint(1_000_000, 9_999_999)}"  # never the 00000NN test range


def _test_number(provider: str, suffix: str) -> str:
    return f"0{PREFIXES[provider][0]}00000{suffix}"


def plan_payments(count: int, seed: int) -> list[Planned]:
    """A deterministic mix of `count` payments."""
    rng = random.Random(seed)
    scenarios = list(_WEIGHTS)
    weights = list(_WEIGHTS.values())
    providers = list(PREFIXES)
    plans = []
    for n in range(count):
        scenario = rng.choices(scenarios, weights)[0]
        first, second = rng.sample(providers, 2)
        amount = f"{rng.randint(100, 30_000) / 100:.2f}"
        payer = _number(rng, first)
        wallets: list[dict[str, str]] | None = None
        poor: tuple[tuple[str, str], ...] = ()
        if scenario is Scenario.TWO_WALLETS:
            wallets = [wallet(first, payer), wallet(second, _number(rng, second))]
        elif scenario is Scenario.FAILOVER:
            rich = _number(rng, second)
            wallets = [wallet(first, payer), wallet(second, rich)]
            rng.shuffle(wallets)
            poor = ((first, payer),)
        elif scenario is Scenario.INSUFFICIENT:
            wallets = [wallet(first, payer)]
            poor = ((first, payer),)
        elif scenario is Scenario.REJECTED:
            payer = _test_number(first, "01")
        elif scenario is Scenario.EXPIRED:
            payer = _test_number(first, "02")
        body: dict[str, Any] = {
            "amount": amount,
            "currency": "GHS",
            "payer": {"msisdn": payer, **({"wallets": wallets} if wallets else {})},
            "payee": {"merchant_account": PAYEE_ACCOUNT},
            "description": f"chaos {scenario.value}",
            "reference": f"chaos-{n}",
        }
        plans.append(Planned(n, scenario, body, poor))
    return plans


def wallet(provider: str, msisdn: str) -> dict[str, str]:
    """A wallet entry of the request body."""
    return {"provider": provider, "msisdn": msisdn}


@define
class Accepted:
    """A payment the API accepted (202), and what the client did with it after."""

    payment_id: str
    plan: Planned
    cancel_status: int | None = None
    refund_status: int | None = None
    refund_amount: str | None = None


@define
class LoadStats:
    """What the client saw."""

    statuses: Counter[str] = field(factory=Counter)
    retries: int = 0
    gave_up: list[int] = field(factory=list)
    accepted: dict[str, Accepted] = field(factory=dict)


class Client:
    """The merchant's HTTP client: retries unanswered requests with the same Idempotency-Key."""

    def __init__(
        self, http: httpx.AsyncClient, token: str, *, give_up_after_s: float = 60.0
    ) -> None:
        """Use `http` (base_url = the API) and a merchant token."""
        self._http = http
        self.http = http
        self._headers = {"Authorization": f"Bearer {token}"}
        self._give_up_after_s = give_up_after_s
        self.stats = LoadStats()

    async def _send(
        self,
        method: str,
        path: str,
        key: str | None,
        body: dict[str, Any] | None,
        *,
        retry_conflict: bool = False,
    ) -> httpx.Response | None:
        """Send until answered; a 409 is an answer unless the same key may still be in flight."""
        headers = dict(self._headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        delay = 0.2
        with anyio.move_on_after(self._give_up_after_s):
            while True:
                try:
                    response = await self._http.request(method, path, json=body, headers=headers)
                except httpx.HTTPError as exc:
                    self.stats.statuses[type(exc).__name__] += 1
                else:
                    self.stats.statuses[f"{method} {response.status_code}"] += 1
                    retry = response.status_code >= 500 or response.status_code == 429
                    if not retry and not (retry_conflict and response.status_code == 409):
                        return response
                self.stats.retries += 1
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
        return None

    async def initiate(self, plan: Planned, run_id: str) -> Accepted | None:
        """POST the payment until answered; the accepted payment, if any."""
        response = await self._send(
            "POST",
            "/api/v1/payments/initiate",
            f"{run_id}-{plan.n}",
            plan.body,
            retry_conflict=True,  # 409: our earlier try with this key is still in flight
        )
        if response is None:
            self.stats.gave_up.append(plan.n)
            return None
        if response.status_code not in (200, 202):
            return None
        accepted = Accepted(response.json()["id"], plan)
        self.stats.accepted[accepted.payment_id] = accepted
        return accepted

    async def cancel(self, accepted: Accepted) -> None:
        """Ask to cancel (409 when something is already at a provider)."""
        response = await self._send(
            "POST", f"/api/v1/payments/{accepted.payment_id}/cancel", None, None
        )
        accepted.cancel_status = None if response is None else response.status_code

    async def state(self, payment_id: str) -> str | None:
        """The payment's state, or None when unanswered."""
        response = await self._send("GET", f"/api/v1/payments/{payment_id}/status", None, None)
        if response is None or response.status_code != 200:
            return None
        state: str = response.json()["state"]
        return state

    async def refund_when_confirmed(self, accepted: Accepted, until: float) -> None:
        """Wait for CONFIRMED, then refund (in full, or half of it for an odd payment number)."""
        while anyio.current_time() < until:
            state = await self.state(accepted.payment_id)
            if state == "CONFIRMED":
                break
            if state in ("FAILED", "EXPIRED", "CANCELLED", "REFUNDED"):
                return
            await anyio.sleep(1.0)
        else:
            return
        body = None
        if accepted.plan.n % 2:
            minor = int(str(accepted.plan.body["amount"]).replace(".", "")) // 2
            accepted.refund_amount = f"{minor // 100}.{minor % 100:02d}"
            body = {"amount": accepted.refund_amount}
        response = await self._send(
            "POST",
            f"/api/v1/payments/{accepted.payment_id}/refund",
            f"refund-{accepted.payment_id}",
            body,
        )
        accepted.refund_status = None if response is None else response.status_code


async def drive(
    client: Client, plans: list[Planned], *, seconds: float, run_id: str, settle_by: float
) -> None:
    """Send the plans evenly over `seconds` (open loop), with their cancels and refunds."""
    interval = seconds / max(len(plans), 1)
    started = anyio.current_time()
    limiter = anyio.CapacityLimiter(64)

    async def one(plan: Planned) -> None:
        async with limiter:
            accepted = await client.initiate(plan, run_id)
        if accepted is None:
            return
        if plan.scenario is Scenario.CANCEL:
            await client.cancel(accepted)
        elif plan.scenario is Scenario.REFUND:
            await client.refund_when_confirmed(accepted, settle_by)

    async with anyio.create_task_group() as tg:
        for plan in plans:
            due = started + plan.n * interval
            now = anyio.current_time()
            if due > now:
                await anyio.sleep(due - now)
            tg.start_soon(one, plan)
