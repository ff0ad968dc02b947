"""In-memory Ledger: the same rules as the database's (balanced, append-only, guarded)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from attrs import define, field

from synccash.core.ledger import (
    InsufficientBalance,
    JournalEntry,
    apply,
    balance_of,
    overdrawn,
)
from synccash.core.money import Money
from synccash.core.ports import EntryPage, EntryQuery, StoredEntry


@define
class InMemoryBooks:
    """Committed journal and signed sums per (account, currency), shared by units of work."""

    journal: list[StoredEntry] = field(factory=list)
    keys: set[tuple[str, str]] = field(factory=set)
    sums: dict[tuple[str, str], int] = field(factory=dict)

    def fresh(self, entries: Iterable[JournalEntry]) -> list[JournalEntry]:
        """The entries whose key is not posted yet (each key once)."""
        seen: set[tuple[str, str]] = set()
        out = []
        for e in entries:
            if e.key not in self.keys and e.key not in seen:
                seen.add(e.key)
                out.append(e)
        return out

    def check(self, entries: Sequence[JournalEntry]) -> None:
        """Raise InsufficientBalance if posting `entries` would overdraw a guarded account."""
        touched = {(p.account, p.amount.currency) for e in entries for p in e.postings}
        after = apply({k: self.sums.get(k, 0) for k in touched}, entries)
        bad = overdrawn(after)
        if bad:
            names = ", ".join(f"{a} ({c})" for a, c in sorted(bad))
            raise InsufficientBalance(f"not enough money on {names}")

    def write(self, entries: Sequence[JournalEntry], at: datetime) -> None:
        """Append checked entries (call `check` first)."""
        apply(self.sums, entries)
        for e in entries:
            self.keys.add(e.key)
            self.journal.append(StoredEntry(len(self.journal) + 1, at, e))


class InMemoryLedger:
    """Ledger port over InMemoryBooks."""

    def __init__(self, books: InMemoryBooks) -> None:
        self._books = books

    async def post(self, entries: Sequence[JournalEntry], at: datetime) -> None:
        """Write the entries not posted yet; InsufficientBalance writes nothing."""
        fresh = self._books.fresh(entries)
        self._books.check(fresh)
        self._books.write(fresh, at)

    async def balance(self, account: str, currency: str = "GHS") -> Money:
        """The account's balance on its normal side."""
        return balance_of(account, self._books.sums.get((account, currency), 0), currency)

    async def balances(self, prefix: str = "") -> Mapping[tuple[str, str], Money]:
        """Every account starting with `prefix`, sorted by name."""
        return {
            key: balance_of(key[0], total, key[1])
            for key, total in sorted(self._books.sums.items())
            if key[0].startswith(prefix)
        }

    async def entries(self, query: EntryQuery) -> EntryPage:
        """Entries in posting order, after the cursor's position."""
        after = int(query.cursor) if query.cursor else 0
        wanted = set(query.accounts)
        limit = max(1, query.limit)
        items = [
            s
            for s in self._books.journal[after:]
            if not wanted or any(p.account in wanted for p in s.entry.postings)
        ][: limit + 1]
        more = len(items) > limit
        items = items[:limit]
        return EntryPage(items, str(items[-1].position) if more else None)
