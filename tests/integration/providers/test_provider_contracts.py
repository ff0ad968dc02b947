"""Contract tests: our provider clients against the provider sandboxes over real HTTP.

The same scenarios run for every provider whose sandbox exists (a provider
without one is skipped with a reason). The sandbox ledger is the ground truth
for "every debit exactly once".
"""

from __future__ import annotations

import pytest
from contract_support import CallbackInbox, SandboxSet, number, request, settings_for

from synccash.adapters.providers import MultiProviderGateway, build_gateway, parse_callback
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId
from synccash.sandbox import ManualClock, SandboxWorld

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PROVIDERS = list(ProviderId)
#: The token endpoint of each provider (Telecel uses Basic auth: no token).
TOKEN_PATHS = {ProviderId.MTN: "/collection/token/", ProviderId.AIRTELTIGO: "/auth/oauth2/token"}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_success_debits_exactly_once(provider, sandboxes: SandboxSet, gateway):
    """Submit is accepted, status says SUCCEEDED with the provider's id, the ledger has one debit."""
    sandboxes.get(provider)
    req = request(provider, number(provider))
    submitted = await gateway.submit(req)
    assert submitted.kind in (OutcomeKind.PENDING, OutcomeKind.SUCCEEDED)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    assert status.provider_transaction_id
    debits = sandboxes.debits(provider, req.reference)
    assert [d.amount_minor for d in debits] == [1250]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_insufficient_funds(provider, sandboxes: SandboxSet, world: SandboxWorld, gateway):
    """A wallet with less than the amount: FAILED(insufficient_funds), nothing debited."""
    sandboxes.get(provider)
    payer = number(provider, "77")
    world.register(payer, provider.value, balance_minor=100)  # type: ignore[arg-type]
    req = request(provider, payer)
    await gateway.submit(req)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert (status.kind, status.reason) == (OutcomeKind.FAILED, FailureReason.INSUFFICIENT_FUNDS)
    assert sandboxes.debits(provider, req.reference) == []


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [("01", FailureReason.REJECTED_BY_PAYER), ("02", FailureReason.EXPIRED)],
    ids=["payer_rejected", "expired"],
)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_payer_decisions(provider, suffix, reason, sandboxes: SandboxSet, gateway):
    """The payer's rejection and an expired prompt are definitive failures with their reason."""
    sandboxes.get(provider)
    req = request(provider, number(provider, suffix))
    await gateway.submit(req)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert (status.kind, status.reason) == (OutcomeKind.FAILED, reason)
    assert sandboxes.debits(provider, req.reference) == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_pending_then_success(
    provider, sandboxes: SandboxSet, sandbox_clock: ManualClock, gateway
):
    """An 'ongoing' payer stays PENDING, then SUCCEEDED once the approval time has passed."""
    sandbox = sandboxes.get(provider)
    req = request(provider, number(provider, "03"))
    await gateway.submit(req)
    first = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert first.kind is OutcomeKind.PENDING
    sandbox_clock.advance(sandbox.config.ongoing_seconds + 1)
    second = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert second.kind is OutcomeKind.SUCCEEDED
    assert len(sandboxes.debits(provider, req.reference)) == 1


@pytest.mark.parametrize("provider", [ProviderId.MTN, ProviderId.AIRTELTIGO])
async def test_expired_token_is_refreshed_once(provider, sandboxes: SandboxSet, gateway, traffic):
    """Tokens revoked at the provider: the call is refused once, a new token is fetched, it succeeds."""
    sandbox = sandboxes.get(provider)
    warm = await gateway.status(
        provider, AttemptKind.COLLECT, request(provider, number(provider)).reference
    )
    assert warm.kind is OutcomeKind.NOT_FOUND
    sandbox.tokens.expire_all()
    req = request(provider, number(provider))
    outcome = await gateway.submit(req)
    assert outcome.kind in (OutcomeKind.PENDING, OutcomeKind.SUCCEEDED)
    token_calls = [r for r in traffic if r.url.path == TOKEN_PATHS[provider]]
    assert len(token_calls) == 2
    assert len(sandboxes.debits(provider, req.reference)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_reused_reference_is_accepted_not_doubled(provider, sandboxes: SandboxSet, gateway):
    """Resending with the same reference (e.g. after a timeout) is 'already accepted': one debit."""
    sandboxes.get(provider)
    req = request(provider, number(provider))
    await gateway.submit(req)
    again = await gateway.submit(req)
    assert again.kind in (OutcomeKind.PENDING, OutcomeKind.SUCCEEDED)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    assert len(sandboxes.debits(provider, req.reference)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unknown_reference_is_not_found(provider, sandboxes: SandboxSet, gateway):
    """A reference the provider never accepted: NOT_FOUND (safe to resend with it)."""
    sandboxes.get(provider)
    outcome = await gateway.status(
        provider, AttemptKind.COLLECT, request(provider, number(provider)).reference
    )
    assert outcome.kind is OutcomeKind.NOT_FOUND


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_ambiguous_timeout_then_status_tells_the_truth(
    provider, sandboxes: SandboxSet, inbox: CallbackInbox, http
):
    """Processed but unanswered within our timeout: UNKNOWN; the status query then says SUCCEEDED, one debit."""
    sandbox = sandboxes.get(provider)
    gateway = build_gateway(settings_for(sandboxes, inbox, PROVIDER_TIMEOUT_SECONDS="1"), http)
    warm = await gateway.status(
        provider, AttemptKind.COLLECT, request(provider, number(provider)).reference
    )
    assert warm.kind is OutcomeKind.NOT_FOUND  # token fetched before the fault
    sandbox.set_faults(timeout_after_accept_rate=1.0, hold_seconds=10)
    req = request(provider, number(provider))
    outcome = await gateway.submit(req)
    assert outcome.kind is OutcomeKind.UNKNOWN
    sandbox.set_faults(timeout_after_accept_rate=0.0)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    assert len(sandboxes.debits(provider, req.reference)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_server_error_on_submit_is_unknown_and_on_status_transient(
    provider, sandboxes: SandboxSet, gateway
):
    """5xx on submit: UNKNOWN (never FAILED); on a status query: TRANSIENT (ask again)."""
    sandbox = sandboxes.get(provider)
    await gateway.status(
        provider, AttemptKind.COLLECT, request(provider, number(provider)).reference
    )
    sandbox.set_faults(error_rate=1.0, error_status=500)
    req = request(provider, number(provider))
    assert (await gateway.submit(req)).kind is OutcomeKind.UNKNOWN
    assert (
        await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    ).kind is OutcomeKind.TRANSIENT
    sandbox.set_faults(error_rate=0.0)
    # The injected 5xx came before any processing: the provider never accepted it.
    assert (
        await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    ).kind is OutcomeKind.NOT_FOUND


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rate_limited_is_transient_with_retry_after(provider, sandboxes: SandboxSet, gateway):
    """429: TRANSIENT with the provider's Retry-After; nothing recorded."""
    sandbox = sandboxes.get(provider)
    await gateway.status(
        provider, AttemptKind.COLLECT, request(provider, number(provider)).reference
    )
    sandbox.set_faults(rate_limit_rate=1.0, retry_after_seconds=2)
    req = request(provider, number(provider))
    outcome = await gateway.submit(req)
    assert (outcome.kind, outcome.retry_after_seconds) == (OutcomeKind.TRANSIENT, 2.0)
    sandbox.set_faults(rate_limit_rate=0.0)
    assert sandboxes.debits(provider, req.reference) == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_lookup_of_own_and_unknown_wallets(
    provider, sandboxes: SandboxSet, world: SandboxWorld, gateway
):
    """An own wallet is active with its name; a number living on another network is not active."""
    sandboxes.get(provider)
    own = number(provider, "70")
    world.register(own, provider.value, name="Ama Owusu")  # type: ignore[arg-type]
    info = await gateway.lookup(provider, Msisdn.parse(own))
    assert info.active
    if info.name is not None:
        assert info.name == "Ama Owusu"
    elsewhere = next(p for p in PROVIDERS if p is not provider)
    foreign = number(elsewhere, "71")
    world.register(foreign, elsewhere.value)  # type: ignore[arg-type]
    assert not (await gateway.lookup(provider, Msisdn.parse(foreign))).active


async def test_ported_number_resolved_by_lookup(
    sandboxes: SandboxSet, world: SandboxWorld, gateway
):
    """An MTN-prefix number ported to Telecel: MTN lookup says inactive, Telecel says active."""
    sandboxes.get(ProviderId.MTN)
    ported = "233245550000"
    world.register(ported, "telecel", name="Ama Owusu")
    msisdn = Msisdn.parse(ported)
    assert msisdn.network_hint is ProviderId.MTN
    assert not (await gateway.lookup(ProviderId.MTN, msisdn)).active
    sandboxes.get(ProviderId.TELECEL)
    telecel = await gateway.lookup(ProviderId.TELECEL, msisdn)
    assert telecel.active


@pytest.mark.parametrize("provider", [ProviderId.MTN, ProviderId.TELECEL])
async def test_callbacks_parse_into_hints_even_when_duplicated(
    provider, sandboxes: SandboxSet, inbox: CallbackInbox, gateway: MultiProviderGateway
):
    """The provider calls back on our per-attempt URL (twice here); both parse to the same hint."""
    sandbox = sandboxes.get(provider)
    sandbox.set_faults(duplicate_callback_rate=1.0)
    req = request(provider, number(provider))
    await gateway.submit(req)
    received = await inbox.wait_for(2)
    hints = [parse_callback(r.provider, r.body, r.headers, r.path_reference) for r in received]
    assert hints[0] is not None
    assert hints[0] == hints[1]
    assert (hints[0].provider, hints[0].reference, hints[0].claimed) == (
        provider,
        req.reference,
        OutcomeKind.SUCCEEDED,
    )


@pytest.mark.parametrize(
    "suffix_code",
    [("01", "2001"), ("02", "2001"), ("77", "2050")],
    ids=["payer_rejected", "expired", "insufficient_funds"],
)
async def test_telecel_failure_is_unpaid_on_status_and_named_by_the_callback(
    suffix_code, sandboxes: SandboxSet, world: SandboxWorld, inbox: CallbackInbox, gateway
):
    """Hubtel's status check says 0000 + Unpaid for a failed payment (still PENDING to us); only
    the callback names the failure."""
    suffix, code = suffix_code
    sandbox = sandboxes.get(ProviderId.TELECEL)
    sandbox.config.options["status_semantics"] = "documented"  # reset() restores the default
    payer = number(ProviderId.TELECEL, suffix)
    world.register(payer, "telecel", balance_minor=100)
    req = request(ProviderId.TELECEL, payer)
    await gateway.submit(req)
    status = await gateway.status(ProviderId.TELECEL, AttemptKind.COLLECT, req.reference)
    assert (status.kind, status.provider_code) == (OutcomeKind.PENDING, "Unpaid")
    [received] = await inbox.wait_for(1)
    hint = parse_callback(
        received.provider, received.body, received.headers, received.path_reference
    )
    assert hint is not None
    assert (hint.claimed, hint.provider_code) == (OutcomeKind.FAILED, code)
    assert sandboxes.debits(ProviderId.TELECEL, req.reference) == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_took_effect_then_5xx_is_unknown_and_status_finds_it(
    provider, sandboxes: SandboxSet, gateway
):
    """Processed, then a 5xx: the submit is UNKNOWN (never FAILED) and the status query
    finds the one debit."""
    sandbox = sandboxes.get(provider)
    await gateway.status(
        provider, AttemptKind.COLLECT, request(provider, number(provider)).reference
    )
    sandbox.set_faults(error_after_effect_rate=1.0)
    req = request(provider, number(provider))
    assert (await gateway.submit(req)).kind is OutcomeKind.UNKNOWN
    sandbox.set_faults(error_after_effect_rate=0.0)
    status = await gateway.status(provider, AttemptKind.COLLECT, req.reference)
    assert status.kind is OutcomeKind.SUCCEEDED
    assert len(sandboxes.debits(provider, req.reference)) == 1
