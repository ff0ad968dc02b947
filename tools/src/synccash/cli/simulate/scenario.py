"""Simulation scenarios: YAML in, typed values out (every mistake is a clear ValidationError).

A scenario describes a stretch of simulated time: each provider's *true* success
rate and latency as piecewise-linear timelines, outage windows, who holds which
wallet with what balance, the amount distribution, the payee mix and optional
fee overrides. See tools/scenarios/*.yaml for annotated examples.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import yaml
from attrs import field, frozen

from synccash.core.errors import ValidationError
from synccash.core.fees import FeeRule, TransferKind
from synccash.core.money import Money
from synccash.core.providers import ProviderId


class ScenarioError(ValidationError):
    """A scenario file that cannot be simulated as written."""

    code = "invalid_scenario"


@frozen
class Timeline:
    """A value over simulated hours, linear between points and flat beyond the ends."""

    hours: tuple[float, ...]
    values: tuple[float, ...]

    def at(self, hour: float) -> float:
        """The value at `hour` (hours since the scenario start)."""
        i = bisect.bisect_right(self.hours, hour)
        if i == 0:
            return self.values[0]
        if i == len(self.hours):
            return self.values[-1]
        h0, h1 = self.hours[i - 1], self.hours[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


@frozen
class ProviderTruth:
    """How a provider really behaves (the simulator knows; SyncCash must learn it)."""

    provider: ProviderId
    success: Timeline  # share of attempts the provider processes (payer declines excluded)
    latency_ms: Timeline  # median answer time
    outages: tuple[tuple[float, float], ...] = ()  # [from, to) in hours: every attempt fails
    callback_loss: Timeline = Timeline((0.0,), (0.0,))  # share of callbacks that never arrive

    def down(self, hour: float) -> bool:
        """True inside an outage window."""
        return any(start <= hour < end for start, end in self.outages)


@frozen
class WalletMix:
    """Who holds a wallet at one provider, and with what balance."""

    provider: ProviderId
    holders: float  # share of payers with a wallet here
    balance_median: Money
    balance_sigma: float  # log-normal spread of balances
    balance_known: float  # share of wallets whose balance the merchant passes to SyncCash


@frozen
class AmountDistribution:
    """Log-normal payment amounts, clamped to [minimum, maximum]."""

    median: Money
    sigma: float
    minimum: Money
    maximum: Money


@frozen
class FeeOverride:
    """Replace one provider's tariff for one transfer kind with a single percentage rule."""

    provider: ProviderId
    kind: TransferKind
    rule: FeeRule


@frozen
class Scenario:
    """Everything one simulation run needs."""

    name: str
    description: str
    start: datetime
    hours: float
    payments: int
    seed: int
    payer_decline_rate: float
    amounts: AmountDistribution
    merchant_account_share: float
    payee_networks: Mapping[ProviderId, float]
    wallets: tuple[WalletMix, ...]
    providers: Mapping[ProviderId, ProviderTruth]
    fee_overrides: tuple[FeeOverride, ...] = field(default=())

    def at(self, hour: float) -> datetime:
        """The simulated wall-clock time `hour` hours into the scenario."""
        return self.start + timedelta(hours=hour)


_PROVIDER_DEFAULT: Final = {"success": [[0, 0.97]], "latency_ms": [[0, 1500]]}


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {str(path)!r}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path.name}: the top level must be a mapping")
    return parse_scenario(raw, source=path.name)


def parse_scenario(raw: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Validate a scenario mapping (the parsed YAML)."""
    p = _Reader(source)
    known = {
        "name", "description", "start", "hours", "payments", "seed", "payer_decline_rate",
        "amounts", "payee", "wallets", "providers", "fees",
    }  # fmt: skip
    p.no_unknown(raw, known, "")
    hours = p.number(raw.get("hours", 12), "hours", low=0.01, high=24 * 366)
    providers_raw = p.by_provider(raw.get("providers", {}), "providers")
    providers = {
        pid: p.provider(pid, providers_raw.get(pid, _PROVIDER_DEFAULT), hours) for pid in ProviderId
    }
    wallets_raw = p.by_provider(raw.get("wallets", {}), "wallets")
    wallets = tuple(p.wallet(pid, wallets_raw.get(pid, {})) for pid in ProviderId)
    if all(w.holders == 0 for w in wallets):
        raise ScenarioError(f"{source}: wallets: at least one provider needs holders > 0")
    payee = p.mapping(raw.get("payee", {}), "payee")
    p.no_unknown(payee, {"merchant_account_share", "networks"}, "payee")
    networks_raw = p.mapping(
        payee.get("networks", {"mtn": 0.75, "telecel": 0.18, "airteltigo": 0.07}), "payee.networks"
    )
    networks = {
        ProviderId(p.provider_id(k, "payee.networks")): p.number(v, f"payee.networks.{k}", low=0)
        for k, v in networks_raw.items()
    }
    if sum(networks.values()) <= 0:
        raise ScenarioError(f"{source}: payee.networks must have a positive share")
    return Scenario(
        name=str(raw.get("name", source)),
        description=str(raw.get("description", "")).strip(),
        start=p.start(raw.get("start", "2026-11-26T06:00:00Z")),
        hours=hours,
        payments=int(p.number(raw.get("payments", 2000), "payments", low=1, high=10_000_000)),
        seed=int(p.number(raw.get("seed", 1), "seed", low=0)),
        payer_decline_rate=p.number(
            raw.get("payer_decline_rate", 0.03), "payer_decline_rate", low=0, high=1
        ),
        amounts=p.amounts(p.mapping(raw.get("amounts", {}), "amounts")),
        merchant_account_share=p.number(
            payee.get("merchant_account_share", 0.0), "payee.merchant_account_share", low=0, high=1
        ),
        payee_networks=networks,
        wallets=wallets,
        providers=providers,
        fee_overrides=tuple(
            p.fee(item, i) for i, item in enumerate(p.sequence(raw.get("fees", []), "fees"))
        ),
    )


class _Reader:
    """Field readers that name the offending key in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {where}: {message}")

    def no_unknown(self, raw: Mapping[str, Any], known: set[str], where: str) -> None:
        unknown = sorted(set(raw) - known)
        if unknown:
            prefix = f"{where}." if where else ""
            raise self.error(
                prefix + str(unknown[0]), f"unknown key; expected one of {', '.join(sorted(known))}"
            )

    def mapping(self, value: object, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(where, "must be a mapping")
        return value

    def by_provider(self, value: object, where: str) -> dict[ProviderId, Any]:
        return {
            ProviderId(self.provider_id(k, where)): v for k, v in self.mapping(value, where).items()
        }

    def sequence(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(where, "must be a list")
        return value

    def number(
        self, value: object, where: str, *, low: float | None = None, high: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(where, f"must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error(where, f"must be between {low} and {high}, got {value}")
        return float(value)

    def money(self, value: object, where: str) -> Money:
        try:
            return Money.parse(str(value) if isinstance(value, int | float) else value)
        except ValidationError as exc:
            raise self.error(where, exc.message) from None

    def provider_id(self, name: object, where: str) -> str:
        try:
            return ProviderId.parse(name).value
        except ValidationError as exc:
            raise self.error(where, exc.message) from None

    def start(self, value: object) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value))
            except ValueError:
                raise self.error("start", f"must be an ISO timestamp, got {value!r}") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

    def timeline(self, value: object, where: str, *, low: float, high: float) -> Timeline:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = [[0, value]]
        points = self.sequence(value, where)
        if not points:
            raise self.error(where, "needs at least one [hour, value] point")
        hours: list[float] = []
        values: list[float] = []
        for i, point in enumerate(points):
            if not isinstance(point, list) or len(point) != 2:
                raise self.error(f"{where}[{i}]", "must be [hour, value]")
            hour = self.number(point[0], f"{where}[{i}] hour", low=0)
            if hours and hour <= hours[-1]:
                raise self.error(f"{where}[{i}]", "hours must increase")
            hours.append(hour)
            values.append(self.number(point[1], f"{where}[{i}] value", low=low, high=high))
        return Timeline(tuple(hours), tuple(values))

    def provider(self, pid: ProviderId, value: object, hours: float) -> ProviderTruth:
        where = f"providers.{pid.value}"
        raw = self.mapping(value, where)
        self.no_unknown(raw, {"success", "latency_ms", "outages", "callback_loss"}, where)
        outages = []
        for i, window in enumerate(self.sequence(raw.get("outages", []), f"{where}.outages")):
            if not isinstance(window, list) or len(window) != 2:
                raise self.error(f"{where}.outages[{i}]", "must be [from_hour, to_hour]")
            start = self.number(window[0], f"{where}.outages[{i}]", low=0, high=hours)
            end = self.number(window[1], f"{where}.outages[{i}]", low=start)
            outages.append((start, end))
        return ProviderTruth(
            pid,
            self.timeline(
                raw.get("success", _PROVIDER_DEFAULT["success"]), f"{where}.success", low=0, high=1
            ),
            self.timeline(
                raw.get("latency_ms", _PROVIDER_DEFAULT["latency_ms"]),
                f"{where}.latency_ms",
                low=1,
                high=600_000,
            ),
            tuple(outages),
            self.timeline(raw.get("callback_loss", 0.0), f"{where}.callback_loss", low=0, high=1),
        )

    def wallet(self, pid: ProviderId, value: object) -> WalletMix:
        where = f"wallets.{pid.value}"
        raw = self.mapping(value, where)
        self.no_unknown(raw, {"holders", "balance_median", "balance_sigma", "balance_known"}, where)
        default_holders = {"mtn": 0.85, "telecel": 0.35, "airteltigo": 0.2}[pid.value]
        return WalletMix(
            pid,
            self.number(raw.get("holders", default_holders), f"{where}.holders", low=0, high=1),
            self.money(raw.get("balance_median", "300.00"), f"{where}.balance_median"),
            self.number(raw.get("balance_sigma", 1.0), f"{where}.balance_sigma", low=0, high=5),
            self.number(raw.get("balance_known", 0.0), f"{where}.balance_known", low=0, high=1),
        )

    def amounts(self, raw: Mapping[str, Any]) -> AmountDistribution:
        self.no_unknown(raw, {"median", "sigma", "min", "max"}, "amounts")
        result = AmountDistribution(
            self.money(raw.get("median", "80.00"), "amounts.median"),
            self.number(raw.get("sigma", 1.0), "amounts.sigma", low=0, high=5),
            self.money(raw.get("min", "1.00"), "amounts.min"),
            self.money(raw.get("max", "5000.00"), "amounts.max"),
        )
        if not result.minimum.is_positive or result.minimum > result.maximum:
            raise self.error("amounts", "min must be positive and not above max")
        return result

    def fee(self, value: object, index: int) -> FeeOverride:
        where = f"fees[{index}]"
        raw = self.mapping(value, where)
        self.no_unknown(raw, {"provider", "kind", "percent", "min", "max", "flat"}, where)
        pid = ProviderId(self.provider_id(raw.get("provider"), f"{where}.provider"))
        try:
            kind = TransferKind(str(raw.get("kind", "")))
        except ValueError:
            kinds = ", ".join(k.value for k in TransferKind)
            raise self.error(f"{where}.kind", f"must be one of {kinds}") from None
        percent = self.number(raw.get("percent", 0), f"{where}.percent", low=0, high=100)
        rule = FeeRule.percentage(
            f"scenario-{pid.value}-{kind.value}",
            round(percent * 100),
            valid_from=date.min,
            min_fee=self.money(raw.get("min", "0"), f"{where}.min"),
            max_fee=self.money(raw["max"], f"{where}.max") if "max" in raw else None,
            flat=self.money(raw.get("flat", "0"), f"{where}.flat"),
            source="scenario override",
        )
        return FeeOverride(pid, kind, rule)
