"""Provider sandboxes: ASGI apps emulating MTN MoMo, AT Money and Telecel Cash.

They speak each provider's real wire format (paths, headers, auth, bodies;
see ``shared/reference/provider-apis.md``), move money between wallets of a
shared world, keep each provider's own append-only ledger (the ground truth
for "every debit exactly once"), simulate payer approval, test numbers,
faults and callbacks. The package imports nothing from SyncCash itself.

Usage::

    from synccash.sandbox import ApprovalDelay, SandboxWorld, create_combined_app, mtn, serving

    world = SandboxWorld(default_balance_minor=1_000_000)      # GHS 10,000.00 per new wallet
    world.register("233245550000", "telecel", name="Ama Owusu", balance_minor=5_000)  # ported
    sandbox = mtn.create_sandbox(world, http_client=callback_client)  # client is injected
    app = mtn.create_app(sandbox)            # ASGI app; serve it or use httpx.ASGITransport
    sandbox.set_faults(error_rate=0.1, timeout_after_accept_rate=0.05, hold_seconds=30, seed=7)
    sandbox.set_faults(error_after_effect_rate=0.05)          # processed, then answered 5xx
    sandbox.config.approval_delay = REALISTIC_APPROVAL        # minutes, with a long tail
    sandbox.config.profile = "production"; sandbox.config.allowed_sources = ("10.0.0.5",)
    sandbox.start_outage(60)                                # 503 for 60 s (None: until end_outage())
    sandbox.config.approval_delay = ApprovalDelay(1.0, 3.0)  # or build with create_sandbox(...)
    [e for e in sandbox.ledger if e.kind == "debit"]        # LedgerEntry values
    sandbox.ledger.debits("233245550000"); sandbox.ledger.for_reference(ref)
    sandbox.transactions                                    # every accepted request (Attempt)
    sandbox.attempt(ref); sandbox.by_provider_txn_id(txn_id); sandbox.callbacks_sent

    async with serving(app) as base_url: ...                # uvicorn on 127.0.0.1, random port

    combined = create_combined_app(world, http_client=api_client)  # /mtn, /airteltigo, /telecel
    combined["airteltigo"].set_faults(outage=True)                  # per-provider sandbox
    async with combined.running(): ...    # embedded (ASGITransport): runs timers and callbacks
    await serve("mtn", "127.0.0.1", 8101)  # CLI: one provider at the root (None = all three)

Tests inject ``clock=ManualClock()`` and ``clock.advance(s)``: approval delays, token
expiry and outage windows follow it (pending attempts settle on the next request).
``sandbox.reset()`` forgets attempts, ledger, faults and tokens and restores the config
the sandbox was built with. In ASGITransport mode there is no network timeout, so
``timeout_after_accept`` simply holds the response ``hold_seconds``.

Each provider module (``mtn``, ``airteltigo``, ``telecel``) has ``create_sandbox(world,
http_client=…, clock=…, seed=…)``, ``create_app(sandbox)``, ``DEFAULT_CREDENTIALS`` (the
settings.py defaults; change ``sandbox.config.credentials``) and documents its wire
choices in its module docstring.

Admin API on every sandbox app (under its mount prefix): ``GET /_admin/ledger``,
``GET|PUT /_admin/wallets``, ``GET|PUT /_admin/faults``, ``POST /_admin/reset``
(``?wallets=true`` also forgets wallets), ``GET /_admin/transactions``,
``GET|PUT /_admin/config``, ``POST /_admin/tokens/expire``, ``POST /_admin/settle``.
``PUT /_admin/faults`` takes any ``Faults`` field plus ``outage_for_seconds``.

Wallets not registered are created on first use, with the world's default
balance, on the network their prefix says (MTN 24 25 53 54 55 59; Telecel 20
50; AT 26 27 56 57 23); MTN's test numbers and other foreign numbers live on MTN.
A number registered on another provider (ported) is unknown to the others' lookups
and payments. On the wire: MTN and Telecel use ``233XXXXXXXXX``, AT the 9-digit
national number.

Test numbers (``TEST_NUMBERS``; everything else succeeds, subject to balance). They
apply to collections and to payouts (``PAYER_*`` reasons become ``PAYEE_*``):

=====================  ===========================  =================================
Ghana ``0XX00000NN``   MTN ``467331234NN``          outcome
=====================  ===========================  =================================
NN=01                  51                           payer rejects (APPROVAL_REJECTED)
NN=02                  52                           approval expires (EXPIRED)
NN=03                  53                           pending ``ongoing_seconds``, then success
NN=04                  54                           pending forever (MTN shows CREATED)
NN=05                  55                           payer not found
NN=06                  57                           not allowed
NN=07                  50, 61                       internal error (AT: TA; Telecel: 0005)
NN=08                  62                           unavailable at submit, nothing recorded
NN=09                  —                            payer limit reached
—                      56, 58, 59, 60, 63, 64       MTN's other documented failures
=====================  ===========================  =================================

Own test numbers: ``sandbox.config.scenarios["233241234567"] = Scenario("mine", "failed",
"APPROVAL_REJECTED")`` (or PUT ``/_admin/config`` ``{"scenarios": {number: {...}}}``);
``MTN_OBSERVED_SCENARIOS`` switches MTN to its observed (not portal) behaviour.
"""

from synccash.sandbox._combined import (
    MOUNTS,
    SERVE_APPROVAL_DELAY,
    CombinedApp,
    build_served_app,
    create_app,
    create_combined_app,
    create_sandbox,
    serve,
)
from synccash.sandbox._faults import Faults
from synccash.sandbox._numbers import (
    GHANA_TEST_SUFFIXES,
    MTN_OBSERVED_SCENARIOS,
    MTN_TEST_NUMBERS,
    PREFIXES,
    Scenario,
    ghana_test_number,
    scenario_for,
)
from synccash.sandbox._sandbox import (
    MTN_CALLBACK_RETRIES,
    REALISTIC_APPROVAL,
    ApprovalDelay,
    Attempt,
    Callback,
    CallbackRetries,
    ManualClock,
    ProviderSandbox,
    SandboxConfig,
)
from synccash.sandbox._server import SandboxHttpProtocol, serving
from synccash.sandbox._world import (
    DEFAULT_BALANCE_MINOR,
    Ledger,
    LedgerEntry,
    SandboxError,
    SandboxWorld,
    Wallet,
)

#: Every test number's scenario: Ghana suffixes (``0XX00000NN``) and MTN's numbers.
TEST_NUMBERS = {"ghana_suffix": GHANA_TEST_SUFFIXES, "mtn": MTN_TEST_NUMBERS}

__all__ = [
    "DEFAULT_BALANCE_MINOR",
    "GHANA_TEST_SUFFIXES",
    "MOUNTS",
    "MTN_CALLBACK_RETRIES",
    "MTN_OBSERVED_SCENARIOS",
    "MTN_TEST_NUMBERS",
    "PREFIXES",
    "REALISTIC_APPROVAL",
    "SERVE_APPROVAL_DELAY",
    "TEST_NUMBERS",
    "ApprovalDelay",
    "Attempt",
    "Callback",
    "CallbackRetries",
    "CombinedApp",
    "Faults",
    "Ledger",
    "LedgerEntry",
    "ManualClock",
    "ProviderSandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxHttpProtocol",
    "SandboxWorld",
    "Scenario",
    "Wallet",
    "build_served_app",
    "create_app",
    "create_combined_app",
    "create_sandbox",
    "ghana_test_number",
    "scenario_for",
    "serve",
    "serving",
]
