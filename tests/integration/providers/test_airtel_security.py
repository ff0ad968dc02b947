"""AT Money (Airtel Money Open API shape) security over real HTTP: the sandbox checks the
encrypted PIN and the x-signature / x-key of what our client sends, with Airtel's algorithms."""

from __future__ import annotations

import json

import pytest
from contract_support import CallbackInbox, SandboxSet, number, request, settings_for

from synccash.adapters.providers import build_gateway, callback_authentic
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId
from synccash.sandbox._airtel_security import decrypt_pin, signed_body
from synccash.sandbox.airteltigo import keys_of

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

AT = ProviderId.AIRTELTIGO
KEYS_PATH = "/v1/rsa/encryption-keys"


def _posts(traffic, path: str):
    return [r for r in traffic if r.method == "POST" and r.url.path == path]


async def test_payout_carries_the_pin_encrypted_with_the_fetched_key(
    sandboxes: SandboxSet, gateway, traffic
):
    """The sandbox requires the PIN: our payout sends it RSA-encrypted and is paid."""
    sandbox = sandboxes.get(AT)
    assert sandbox.config.options.get("require_pin", True)
    req = request(AT, number(AT), kind=AttemptKind.DISBURSE)
    outcome = await gateway.submit(req)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    [sent] = _posts(traffic, "/standard/v1/disbursements/")
    pin = json.loads(sent.content)["pin"]
    assert pin != "1234"
    assert decrypt_pin(keys_of(sandbox).key(sandbox.now()).private, pin) == "1234"


async def test_every_body_is_signed_and_the_key_is_fetched_once(
    sandboxes: SandboxSet, gateway, traffic
):
    """Each POST carries x-signature / x-key that decrypt to its body; one key fetch serves all."""
    sandbox = sandboxes.get(AT)
    for _ in range(3):
        assert (await gateway.submit(request(AT, number(AT)))).kind is OutcomeKind.PENDING
    private = keys_of(sandbox).key(sandbox.now()).private
    posts = _posts(traffic, "/merchant/v1/payments/")
    assert len(posts) == 3
    for sent in posts:
        decrypted = signed_body(private, sent.headers["x-signature"], sent.headers["x-key"])
        assert decrypted == json.loads(sent.content)
    assert len([r for r in traffic if r.url.path == KEYS_PATH]) == 1


async def test_a_rotated_key_is_fetched_again_once_refused(sandboxes: SandboxSet, gateway, traffic):
    """After Airtel rotates its key, the refused submit is re-sent once with the new key."""
    sandbox = sandboxes.get(AT)
    assert (await gateway.submit(request(AT, number(AT)))).kind is OutcomeKind.PENDING
    keys_of(sandbox).rotate(sandbox.now())
    req = request(AT, number(AT))
    assert (await gateway.submit(req)).kind is OutcomeKind.PENDING
    assert len([r for r in traffic if r.url.path == KEYS_PATH]) == 2
    assert len(sandboxes.debits(AT, req.reference)) == 1


async def test_unsigned_requests_are_refused_by_the_sandbox(
    sandboxes: SandboxSet, inbox: CallbackInbox, http
):
    """With signing off, the sandbox refuses the collection (DP00800001026): nothing recorded."""
    sandbox = sandboxes.get(AT)
    gateway = build_gateway(
        settings_for(sandboxes, inbox, AIRTELTIGO_MESSAGE_SIGNING="false"), http
    )
    outcome = await gateway.submit(request(AT, number(AT)))
    assert (outcome.kind, outcome.reason, outcome.provider_code) == (
        OutcomeKind.FAILED,
        FailureReason.CONFIGURATION,
        "DP00800001026",
    )
    assert sandbox.transactions == ()


async def test_a_wrong_pin_is_refused(sandboxes: SandboxSet, inbox: CallbackInbox, http):
    """Another PIN than the wallet's is ROUTER115: a configuration failure, nothing credited."""
    sandbox = sandboxes.get(AT)
    gateway = build_gateway(settings_for(sandboxes, inbox, AIRTELTIGO_PIN="9999"), http)
    outcome = await gateway.submit(request(AT, number(AT), kind=AttemptKind.DISBURSE))
    assert (outcome.kind, outcome.provider_code) == (OutcomeKind.FAILED, "ROUTER115")
    assert list(sandbox.ledger) == []


async def test_a_configured_public_key_is_used_without_fetching(
    sandboxes: SandboxSet, inbox: CallbackInbox, http, traffic
):
    """AIRTELTIGO_RSA_PUBLIC_KEY set: nothing is fetched, and the sandbox accepts what it signs."""
    sandbox = sandboxes.get(AT)
    public = keys_of(sandbox).key(sandbox.now()).public_b64()
    gateway = build_gateway(settings_for(sandboxes, inbox, AIRTELTIGO_RSA_PUBLIC_KEY=public), http)
    assert (await gateway.submit(request(AT, number(AT)))).kind is OutcomeKind.PENDING
    assert [r for r in traffic if r.url.path == KEYS_PATH] == []


async def test_sandbox_callback_hash_verifies_with_the_application_key(
    sandboxes: SandboxSet, inbox: CallbackInbox, gateway
):
    """The sandbox's hashed callback passes our check with the app key and fails with another."""
    sandbox = sandboxes.get(AT)
    sandbox.config.options.update(
        callback_url=f"{inbox.base_url}/api/v1/callbacks/airteltigo", callback_secret="app-key"
    )
    try:
        await gateway.submit(request(AT, number(AT)))
        [received] = await inbox.wait_for(1)
    finally:
        sandbox.config.options.update(callback_url=None, callback_secret=None)
    assert callback_authentic(AT, received.body, received.headers, airtel_key="app-key")
    assert not callback_authentic(AT, received.body, received.headers, airtel_key="other")
