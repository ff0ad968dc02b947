"""A deterministic fake ProviderGateway with its own ledger, for tests with no I/O.

Each wallet MSISDN can be given a `Script`: what submit answers and the sequence
of status answers. The fake keeps a ledger of money it "moved" so tests can
assert that nothing was debited twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from attrs import define, field, frozen

from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest
from synccash.core.providers import ProviderId

ACCEPTED: Final = ProviderOutcome.pending("ACCEPTED")
SUCCESS: Final = ProviderOutcome.succeeded("fake-txn", "SUCCESSFUL")


@frozen
class Script:
    """What the fake provider answers for one wallet: to submit, then to each status query."""

    submit: tuple[ProviderOutcome, ...] = (ACCEPTED,)
    status: tuple[ProviderOutcome, ...] = (SUCCESS,)

    @classmethod
    def fails(cls, reason: FailureReason, code: str = "FAILED") -> Script:
        """Accepted, then a definitive failure."""
        return cls(status=(ProviderOutcome.failed(reason, code),))


@frozen
class LedgerEntry:
    """Money the fake provider moved."""

    provider: ProviderId
    kind: AttemptKind
    reference: str
    msisdn: str
    amount_minor: int


@define
class FakeProviderGateway:
    """Scripted provider answers keyed by wallet MSISDN; everything else succeeds."""

    scripts: dict[str, Script] = field(factory=dict)
    submits: list[AttemptRequest] = field(factory=list)
    status_calls: list[str] = field(factory=list)
    ledger: list[LedgerEntry] = field(factory=list)
    ported: dict[str, ProviderId] = field(factory=dict)  # msisdn -> provider it really lives on
    lookups: list[tuple[ProviderId, str]] = field(factory=list)  # (provider, msisdn) asked
    _requests: dict[str, AttemptRequest] = field(factory=dict)
    _submit_pos: dict[str, int] = field(factory=dict)
    _status_pos: dict[str, int] = field(factory=dict)
    _final: dict[str, ProviderOutcome] = field(factory=dict)

    def script(self, msisdn: str, script: Script) -> None:
        """Give a wallet a script."""
        self.scripts[Msisdn.parse(msisdn).e164] = script

    @staticmethod
    def _next(seq: tuple[ProviderOutcome, ...], pos: dict[str, int], ref: str) -> ProviderOutcome:
        i = pos.get(ref, 0)
        pos[ref] = i + 1
        return seq[min(i, len(seq) - 1)]

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Answer per script; an accepted reference is remembered (re-sends are idempotent)."""
        self.submits.append(request)
        script = self.scripts.get(request.msisdn.e164, Script())
        if request.reference in self._requests:
            return ProviderOutcome.pending("RESOURCE_ALREADY_EXIST")
        outcome = self._next(script.submit, self._submit_pos, request.reference)
        if self._ported_away(request):
            # as the real networks do: accepted, then failed for a number not on them
            outcome = ProviderOutcome.pending("PENDING")
        if outcome.kind.value in ("pending", "succeeded", "failed", "unknown"):
            self._requests[request.reference] = request
        if outcome.kind.value == "succeeded":
            self._settle(request, outcome)
        return outcome

    async def status(
        self,
        provider: ProviderId,  # noqa: ARG002  (the reference alone identifies an attempt here)
        kind: AttemptKind,  # noqa: ARG002
        reference: str,
    ) -> ProviderOutcome:
        """Answer per script; a final answer never changes once given."""
        self.status_calls.append(reference)
        if reference in self._final:
            return self._final[reference]
        request = self._requests.get(reference)
        if request is None:
            return ProviderOutcome.not_found("RESOURCE_NOT_FOUND")
        script = self.scripts.get(request.msisdn.e164, Script())
        outcome = self._next(script.status, self._status_pos, reference)
        if self._ported_away(request):
            outcome = (
                ProviderOutcome.failed(FailureReason.PAYEE_NOT_FOUND, "PAYEE_NOT_FOUND")
                if request.kind is AttemptKind.DISBURSE
                else ProviderOutcome.failed(FailureReason.PAYER_NOT_FOUND, "PAYER_NOT_FOUND")
            )
        if outcome.is_final:
            self._settle(request, outcome)
        return outcome

    def _settle(self, request: AttemptRequest, outcome: ProviderOutcome) -> None:
        self._final[request.reference] = outcome
        if outcome.kind.value == "succeeded":
            self.ledger.append(
                LedgerEntry(
                    request.provider,
                    request.kind,
                    request.reference,
                    request.msisdn.e164,
                    request.amount.minor,
                )
            )

    def _ported_away(self, request: AttemptRequest) -> bool:
        """A collection from (or a payout to) a number that now lives on another network."""
        home = self.ported.get(request.msisdn.e164)
        return (
            home is not None
            and home is not request.provider
            and request.kind in (AttemptKind.COLLECT, AttemptKind.DISBURSE)
        )

    async def lookup(self, provider: ProviderId, msisdn: Msisdn) -> AccountInfo:
        """Active where the number lives now (ported numbers follow `ported`)."""
        self.lookups.append((provider, msisdn.e164))
        home = self.ported.get(msisdn.e164, msisdn.network_hint)
        return AccountInfo(provider, msisdn, active=home is provider, name="Test Holder")

    def debits(self, kinds: Iterable[AttemptKind] = (AttemptKind.COLLECT,)) -> list[LedgerEntry]:
        """Ledger entries of the given kinds."""
        wanted = set(kinds)
        return [e for e in self.ledger if e.kind in wanted]
