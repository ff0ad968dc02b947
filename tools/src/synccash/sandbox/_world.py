"""The shared world of the sandboxes: wallets, and each sandbox's append-only ledger."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from attrs import asdict, define, field, frozen

from synccash.sandbox._numbers import ProviderName, canonical, network_of

#: Default balance of a wallet created on first use: GHS 10,000.00.
DEFAULT_BALANCE_MINOR = 1_000_000

_GIVEN = ("Kwame", "Ama", "Kofi", "Akosua", "Yaw", "Abena", "Kojo", "Efua", "Kwabena", "Adwoa")
_FAMILY = ("Mensah", "Owusu", "Boateng", "Asante", "Osei", "Addo", "Appiah", "Darko", "Quaye")


def _generated_name(key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.encode()).digest()
    return _GIVEN[digest[0] % len(_GIVEN)], _FAMILY[digest[1] % len(_FAMILY)]


class SandboxError(ValueError):
    """A sandbox-level misuse (bad number, unknown provider)."""


@define
class Wallet:
    """A mobile-money wallet: the number lives on exactly one provider (porting moves it)."""

    msisdn: str
    provider: ProviderName
    given_name: str
    family_name: str
    balance_minor: int

    @property
    def name(self) -> str:
        """Full name as shown by name lookups."""
        return f"{self.given_name} {self.family_name}".strip()

    def to_json(self) -> dict[str, Any]:
        """JSON form used by the admin API."""
        return {**asdict(self), "name": self.name}


@frozen
class LedgerEntry:
    """One money movement on a wallet, as the provider recorded it (append-only)."""

    provider: ProviderName
    kind: Literal["debit", "credit", "refund"]
    msisdn: str
    amount_minor: int
    reference: str
    provider_txn_id: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """JSON form used by the admin API."""
        return {**asdict(self), "at": self.at.isoformat()}


@define
class Ledger:
    """A sandbox's own append-only ledger: the ground truth for "every debit exactly once"."""

    _entries: list[LedgerEntry] = field(factory=list)

    def append(self, entry: LedgerEntry) -> None:
        """Record one movement."""
        self._entries.append(entry)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """All entries, oldest first."""
        return tuple(self._entries)

    def for_reference(self, reference: str) -> tuple[LedgerEntry, ...]:
        """Entries recorded for one request reference."""
        return tuple(e for e in self._entries if e.reference == reference)

    def debits(self, msisdn: str | None = None) -> tuple[LedgerEntry, ...]:
        """Debit entries (collections), optionally for one wallet."""
        return tuple(e for e in self._entries if e.kind == "debit" and msisdn in (None, e.msisdn))

    def clear(self) -> None:
        """Forget everything (admin reset only)."""
        self._entries.clear()


@define
class SandboxWorld:
    """Wallets shared by the three sandboxes (so a number can be ported between them).

    Unregistered numbers are created on first use, with ``default_balance_minor``,
    on the network their prefix says.
    """

    default_balance_minor: int = DEFAULT_BALANCE_MINOR
    _wallets: dict[str, Wallet] = field(factory=dict)

    def register(
        self,
        msisdn: str,
        provider: ProviderName,
        *,
        name: str | None = None,
        balance_minor: int | None = None,
    ) -> Wallet:
        """Create or replace a wallet; use it to port a number to another provider."""
        key = self._key(msisdn)
        given, family = _generated_name(key)
        if name is not None:
            given, _, family = name.partition(" ")
        wallet = Wallet(
            key,
            provider,
            given,
            family,
            self.default_balance_minor if balance_minor is None else balance_minor,
        )
        self._wallets[key] = wallet
        return wallet

    def lookup(self, msisdn: str) -> Wallet | None:
        """The wallet of a number, creating it on its prefix network on first use."""
        key = canonical(msisdn)
        if key is None:
            return None
        wallet = self._wallets.get(key)
        if wallet is None:
            network = network_of(key)
            if network is None:
                return None
            wallet = self.register(key, network)
        return wallet

    def on_provider(self, msisdn: str, provider: ProviderName) -> Wallet | None:
        """The wallet of a number if it currently lives on ``provider``."""
        wallet = self.lookup(msisdn)
        return wallet if wallet is not None and wallet.provider == provider else None

    @property
    def wallets(self) -> tuple[Wallet, ...]:
        """Every wallet known so far."""
        return tuple(self._wallets.values())

    def reset(self) -> None:
        """Forget every wallet (they are re-created on first use)."""
        self._wallets.clear()

    @staticmethod
    def _key(msisdn: str) -> str:
        key = canonical(msisdn)
        if key is None:
            raise SandboxError(f"not a Ghana MSISDN or MTN test number: {msisdn!r}")
        return key
