"""Data-driven outcome classification: provider x operation x code -> outcome class.

Each provider module declares one `OutcomeTable` built from `Rule` rows (the
approach of Hyperswitch's gateway status map, orchestrator-practices sec 3).
A row says which operations it applies to: transaction-level codes (the
payer's decline, success, pending) apply to both submit and status answers;
request-level codes (configuration, validation) only to submit, because a
status query that fails for a request-level reason says nothing about the
attempt and must simply be asked again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from attrs import frozen

from synccash.core.outcomes import FailureReason, OutcomeKind, ProviderOutcome


class Operation(enum.StrEnum):
    """Which kind of call an answer came from."""

    SUBMIT = "submit"
    STATUS = "status"


#: Shorthands for the `ops` column of a rule.
SUBMIT_ONLY: frozenset[Operation] = frozenset({Operation.SUBMIT})
STATUS_ONLY: frozenset[Operation] = frozenset({Operation.STATUS})
BOTH: frozenset[Operation] = frozenset(Operation)


@frozen
class Rule:
    """One row: a provider code, where it applies, and the class it maps to."""

    code: str
    kind: OutcomeKind
    reason: FailureReason | None = None
    ops: frozenset[Operation] = BOTH
    note: str = ""  # the provider's meaning, kept for the audit trail and reviewers


@frozen
class MessageRule:
    """Refines a generic code by a fragment of its message (Hyperswitch keys on both).

    E.g. Hubtel's 2001 lumps "insufficient funds" with "USSD timeout"; Airtel's
    generic ESB000001 with "Duplicate transaction id" means "already accepted".
    """

    code: str
    fragment: str  # matched case-insensitively against the provider's message
    reason: FailureReason | None
    kind: OutcomeKind = OutcomeKind.FAILED


class OutcomeTable:
    """Lookup of (operation, code) -> Rule for one provider."""

    def __init__(
        self,
        provider: str,
        rules: Iterable[Rule],
        message_rules: Iterable[MessageRule] = (),
    ) -> None:
        """Index the rows; a duplicate (operation, code) pair is a table bug."""
        self.provider = provider
        index: dict[tuple[Operation, str], Rule] = {}
        for rule in rules:
            for op in rule.ops:
                key = (op, rule.code.upper())
                if key in index:
                    raise ValueError(f"{provider}: duplicate rule for {key}")
                index[key] = rule
        self._index: Mapping[tuple[Operation, str], Rule] = index
        self._message_rules = tuple(message_rules)

    def rule(self, operation: Operation, code: str | None) -> Rule | None:
        """The row for this code in this operation, or None."""
        if not code:
            return None
        return self._index.get((operation, code.upper()))

    def outcome(
        self,
        operation: Operation,
        code: str | None,
        *,
        message: str | None = None,
        transaction_id: str | None = None,
    ) -> ProviderOutcome | None:
        """The classified outcome for `code`, or None when the table has no row."""
        rule = self.rule(operation, code)
        if rule is None:
            return None
        return build(
            self.refined(rule, message), code, message=message, transaction_id=transaction_id
        )

    def refined(self, rule: Rule, message: str | None) -> Rule:
        """The row as refined by the first message rule whose fragment the message contains."""
        if not message:
            return rule
        text = message.lower()
        for mrule in self._message_rules:
            if mrule.code == rule.code.upper() and mrule.fragment in text:
                return Rule(rule.code, mrule.kind, mrule.reason, rule.ops, rule.note)
        return rule

    @property
    def codes(self) -> frozenset[str]:
        """Every code the table knows (for tests and docs)."""
        return frozenset(code for _, code in self._index)


def build(
    rule: Rule,
    code: str | None,
    *,
    message: str | None,
    transaction_id: str | None,
) -> ProviderOutcome:
    """Turn a rule into a ProviderOutcome carrying the provider's code and message."""
    text = message or rule.note or None
    match rule.kind:
        case OutcomeKind.SUCCEEDED:
            return ProviderOutcome.succeeded(transaction_id, code=code)
        case OutcomeKind.FAILED:
            return ProviderOutcome.failed(
                rule.reason or FailureReason.OTHER, code=code, message=text
            )
        case OutcomeKind.PENDING:
            return ProviderOutcome.pending(code=code, message=text)
        case OutcomeKind.NOT_FOUND:
            return ProviderOutcome.not_found(code=code, message=text)
        case OutcomeKind.TRANSIENT:
            return ProviderOutcome.transient(code=code, message=text)
        case OutcomeKind.UNKNOWN:
            return ProviderOutcome.unknown(code=code, message=text)
