"""The ASGI app shared by the three sandboxes: fault injection and the /_admin API."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Protocol

import anyio
from attrs import asdict, fields

from synccash.sandbox._asgi import (
    Handler,
    Receive,
    Request,
    Response,
    Router,
    Scope,
    Send,
    lifespan,
    read_request,
    send_response,
    wait_for_disconnect,
)
from synccash.sandbox._numbers import PROVIDERS, ProviderName, Scenario, canonical
from synccash.sandbox._sandbox import ApprovalDelay, CallbackRetries, ProviderSandbox
from synccash.sandbox._statements import statement_csv
from synccash.sandbox._world import SandboxError

_log = logging.getLogger(__name__)


class ProviderWire(Protocol):
    """How one provider words the errors the fault injector and router produce."""

    def server_error(self, status: int) -> Response:
        """A 5xx before anything was done."""
        ...

    def rate_limited(self, retry_after: int) -> Response:
        """A 429."""
        ...

    def unavailable(self) -> Response:
        """A 503 during an outage."""
        ...

    def no_route(self, status: int) -> Response:
        """404/405 for an unknown path or method."""
        ...

    def forbidden(self) -> Response:
        """403 for a caller that is not on the provider's IP allow-list."""
        ...


class SandboxApp:
    """An ASGI app: provider routes behind fault injection, plus ``/_admin``."""

    def __init__(self, sandbox: ProviderSandbox, routes: Router, wire: ProviderWire) -> None:
        self.sandbox = sandbox
        self.routes = routes
        self.wire = wire
        self.admin = _admin_router(sandbox)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            await lifespan(receive, send, self.sandbox.running)
            return
        if scope["type"] != "http":  # pragma: no cover - no websockets here
            return
        request = await read_request(scope, receive)
        if request.path.startswith("/_admin"):
            await send_response(send, await self._dispatch(self.admin, request, admin=True))
            return
        config = self.sandbox.config
        client = scope.get("client")
        if config.production and (client is None or client[0] not in config.allowed_sources):
            # A provider's IP allow-list: the caller is not on it (403, nothing done).
            await send_response(send, self.wire.forbidden())
            return
        response = await self._provider(request)
        faults = self.sandbox.faults
        if response.status < 500 and faults.roll(faults.error_after_effect_rate):
            # Processed and recorded (money may move), but the client sees a server error.
            response = self.wire.server_error(faults.error_status)
        if response.status < 500 and faults.roll(faults.timeout_after_accept_rate):
            # The request was processed and recorded; the client only sees its own timeout.
            await wait_for_disconnect(receive, faults.hold_seconds)
        await send_response(send, response)

    async def _provider(self, request: Request) -> Response:
        sandbox, faults = self.sandbox, self.sandbox.faults
        sandbox.settle_due()
        latency = faults.extra_latency_seconds()
        if latency:
            await anyio.sleep(latency)
        if faults.in_outage(sandbox.clock()):
            return self.wire.unavailable()
        if faults.roll(faults.rate_limit_rate):
            return self.wire.rate_limited(faults.retry_after_seconds)
        if faults.roll(faults.error_rate):
            return self.wire.server_error(faults.error_status)
        return await self._dispatch(self.routes, request, admin=False)

    async def _dispatch(self, router: Router, request: Request, *, admin: bool) -> Response:
        matched = router.match(request.method, request.path)
        if isinstance(matched, int):
            if admin:
                return Response.json(matched, {"error": "no such admin route"})
            return self.wire.no_route(matched)
        handler, params = matched
        try:
            return await handler(request.with_params(params))
        except Exception:
            # What a provider's gateway does with an unforeseen request: a 5xx in its shape.
            _log.exception("sandbox handler failed on %s %s", request.method, request.path)
            return self.wire.server_error(500)


def _body(request: Request) -> Any:
    try:
        return request.json() if request.body else {}
    except ValueError as exc:
        raise SandboxError(f"body is not JSON: {exc}") from None


def _admin_router(sandbox: ProviderSandbox) -> Router:
    router = Router()

    def guarded(fn: Handler) -> Handler:
        async def handler(request: Request) -> Response:
            try:
                return await fn(request)
            except (SandboxError, TypeError, ValueError, KeyError) as exc:
                return Response.json(400, {"error": str(exc)})

        return handler

    async def ledger(_: Request) -> Response:
        sandbox.settle_due()
        entries = [e.to_json() for e in sandbox.ledger]
        return Response.json(200, {"provider": sandbox.provider, "entries": entries})

    async def transactions(_: Request) -> Response:
        return Response.json(200, {"transactions": [a.to_json() for a in sandbox.transactions]})

    async def wallets(_: Request) -> Response:
        return Response.json(200, {"wallets": [w.to_json() for w in sandbox.world.wallets]})

    async def put_wallets(request: Request) -> Response:
        body = _body(request)
        items = body if isinstance(body, list) else [body]
        done = []
        for item in items:
            provider = item.get("provider", sandbox.provider)
            if provider not in PROVIDERS:
                raise SandboxError(f"unknown provider {provider!r}")
            wallet = sandbox.world.register(
                str(item["msisdn"]),
                _provider_name(provider),
                name=item.get("name"),
                balance_minor=item.get("balance_minor"),
            )
            done.append(wallet.to_json())
        return Response.json(200, {"wallets": done})

    async def get_faults(_: Request) -> Response:
        return Response.json(200, sandbox.faults.to_json())

    async def put_faults(request: Request) -> Response:
        changes = dict(_body(request))
        if "outage_for_seconds" in changes:  # convenience: an outage window from now
            seconds = changes.pop("outage_for_seconds")
            changes["outage"] = seconds is not None
            changes["outage_until"] = None if seconds is None else sandbox.clock() + float(seconds)
        sandbox.set_faults(**changes)
        return Response.json(200, sandbox.faults.to_json())

    async def reset(request: Request) -> Response:
        sandbox.reset()
        if request.query.get("wallets", "").lower() in ("1", "true", "yes"):
            sandbox.world.reset()
        return Response.json(200, {"reset": True})

    async def get_config(_: Request) -> Response:
        return Response.json(200, _config_json(sandbox))

    async def put_config(request: Request) -> Response:
        body = _body(request)
        config = sandbox.config
        known = {f.name for f in fields(type(config))}
        unknown = set(body) - known
        if unknown:
            raise SandboxError(f"unknown config field(s): {sorted(unknown)}")
        if "approval_delay" in body:
            config.approval_delay = ApprovalDelay(**body["approval_delay"])
        if "ongoing_seconds" in body:
            config.ongoing_seconds = float(body["ongoing_seconds"])
        if "merchant_balance_minor" in body:
            config.merchant_balance_minor = int(body["merchant_balance_minor"])
        if "callback_retries" in body:
            spec = body["callback_retries"]
            config.callback_retries = CallbackRetries(
                float(spec.get("timeout_seconds", 10.0)),
                tuple((int(n), float(s)) for n, s in spec.get("schedule", ())),
                bool(spec.get("block_slow_receivers", False)),
            )
        for number, spec in body.get("scenarios", {}).items():
            key = canonical(number)
            if key is None:
                raise SandboxError(f"not a number: {number!r}")
            config.scenarios[key] = Scenario(**{"name": "custom", **spec})
        config.credentials.update(body.get("credentials", {}))
        config.options.update(body.get("options", {}))
        return Response.json(200, _config_json(sandbox))

    async def expire_tokens(_: Request) -> Response:
        sandbox.tokens.expire_all()
        return Response.json(200, {"expired": True})

    async def settle(_: Request) -> Response:
        sandbox.settle_due()
        return Response.json(200, {"settled": True})

    async def statement(request: Request) -> Response:
        day = date.fromisoformat(request.query.get("date", ""))
        body = statement_csv(sandbox, day).encode()
        name = f"{sandbox.provider}-{day.isoformat()}.csv"
        disposition = ("content-disposition", f'attachment; filename="{name}"')
        return Response(200, body, (("content-type", "text/csv; charset=utf-8"), disposition))

    for method, path, fn in (
        ("GET", "/_admin/ledger", ledger),
        ("GET", "/_admin/transactions", transactions),
        ("GET", "/_admin/wallets", wallets),
        ("PUT", "/_admin/wallets", put_wallets),
        ("GET", "/_admin/faults", get_faults),
        ("PUT", "/_admin/faults", put_faults),
        ("POST", "/_admin/reset", reset),
        ("GET", "/_admin/config", get_config),
        ("PUT", "/_admin/config", put_config),
        ("POST", "/_admin/tokens/expire", expire_tokens),
        ("POST", "/_admin/settle", settle),
        ("GET", "/_admin/statement", statement),
    ):
        router.add(method, path, guarded(fn))
    return router


def _provider_name(value: str) -> ProviderName:
    for name in PROVIDERS:
        if name == value:
            return name
    raise SandboxError(f"unknown provider {value!r}")


def _config_json(sandbox: ProviderSandbox) -> dict[str, Any]:
    config = sandbox.config
    return {
        "approval_delay": {
            "min_seconds": config.approval_delay.min_seconds,
            "max_seconds": config.approval_delay.max_seconds,
        },
        "ongoing_seconds": config.ongoing_seconds,
        "merchant_balance_minor": config.merchant_balance_minor,
        "callback_retries": {
            "timeout_seconds": config.callback_retries.timeout_seconds,
            "schedule": [list(step) for step in config.callback_retries.schedule],
            "block_slow_receivers": config.callback_retries.block_slow_receivers,
        },
        "options": config.options,
        "scenarios": {number: asdict(scenario) for number, scenario in config.scenarios.items()},
    }
