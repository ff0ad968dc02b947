"""Console routes: login/logout, payments search, a payment's timeline, provider health."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from synccash.api.auth import AuthError, Principal, Scope, authenticate
from synccash.api.console._view import attempt_rows, event_rows, routing_view, summary
from synccash.api.guards import api_context
from synccash.core.errors import DomainError
from synccash.core.payment import PaymentState
from synccash.core.ports import PaymentQuery
from synccash.core.providers import ProviderId

COOKIE: Final = "synccash_console"
PREFIX: Final = "/console"
TEMPLATES: Final = Path(__file__).parent / "templates"
PAGE_SIZE: Final = 50


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja templates of the console (autoescaped)."""
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)


async def _verify(request: Request[Any, Any, Any], credential: str) -> Principal:
    """Check a credential exactly as the API's admission does (API key, JWKS or HS256 JWT)."""
    context = api_context(request)
    return await authenticate(
        context.settings, f"Bearer {credential}", context.api_keys, context.tokens, context.jwks
    )


async def _operator(request: Request[Any, Any, Any]) -> Principal | None:
    """The operator behind the console cookie, or None (not logged in, expired, no ops scope)."""
    credential = request.cookies.get(COOKIE)
    if not credential:
        return None
    try:
        principal = await _verify(request, credential)
    except AuthError:
        return None
    return principal if Scope.OPS in principal.scopes else None


def _login_redirect() -> Redirect:
    return Redirect(f"{PREFIX}/login")


@get(f"{PREFIX}/login", include_in_schema=False)
async def login_page() -> Template:
    """The login form."""
    return Template("login.html.j2", context={"error": None})


@post(f"{PREFIX}/login", include_in_schema=False, status_code=303)
async def login(
    request: Request[Any, Any, Any],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    """Check the pasted credential (valid, with the ops scope), then set the session cookie."""
    credential = (data.get("credential") or "").strip()
    try:
        principal = await _verify(request, credential)
    except AuthError as exc:
        return Template("login.html.j2", context={"error": str(exc)}, status_code=401)
    if Scope.OPS not in principal.scopes:
        error = "this credential has no 'ops' scope"
        return Template("login.html.j2", context={"error": error}, status_code=403)
    response = Redirect(PREFIX)
    response.set_cookie(
        COOKIE,
        credential,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@post(f"{PREFIX}/logout", include_in_schema=False, status_code=303)
async def logout() -> Redirect:
    """Forget the session cookie."""
    response = Redirect(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@get(PREFIX, include_in_schema=False)
async def payments_page(
    *,
    request: Request[Any, Any, Any],
    merchant: Annotated[str | None, Parameter(query="merchant")] = None,
    state_name: Annotated[str | None, Parameter(query="state")] = None,
    provider: Annotated[str | None, Parameter(query="provider")] = None,
    reference: Annotated[str | None, Parameter(query="reference")] = None,
    cursor: Annotated[str | None, Parameter(query="cursor")] = None,
) -> Template | Redirect:
    """Payments of one merchant, newest first, with filters."""
    operator = await _operator(request)
    if operator is None:
        return _login_redirect()
    merchant_id = (merchant or operator.merchant_id).strip()
    query = PaymentQuery(
        state=PaymentState(state_name)
        if state_name is not None and state_name in PaymentState.__members__
        else None,
        provider=ProviderId(provider) if provider in {p.value for p in ProviderId} else None,
        reference=reference or None,
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    page = await api_context(request).container.payments.list(merchant_id, query)
    return Template(
        "payments.html.j2",
        context={
            "operator": operator.merchant_id,
            "merchant": merchant_id,
            "filters": {
                "state": state_name or "",
                "provider": provider or "",
                "reference": reference or "",
            },
            "states": [s.value for s in PaymentState],
            "providers": [p.value for p in ProviderId],
            "payments": [summary(p) for p in page.items],
            "next_cursor": page.next_cursor,
        },
    )


@get(f"{PREFIX}/payments/{{payment_id:str}}", include_in_schema=False)
async def payment_page(
    request: Request[Any, Any, Any],
    payment_id: str,
    merchant: Annotated[str, Parameter(query="merchant")],
) -> Template | Redirect:
    """One payment's timeline: audit trail, attempts, routing explanation and risk."""
    operator = await _operator(request)
    if operator is None:
        return _login_redirect()
    payments = api_context(request).container.payments
    try:
        payment = await payments.get(merchant, payment_id)
        events = await payments.events(merchant, payment_id)
    except DomainError as exc:
        return Template(
            "error.html.j2",
            context={"operator": operator.merchant_id, "message": str(exc)},
            status_code=404,
        )
    return Template(
        "payment.html.j2",
        context={
            "operator": operator.merchant_id,
            "merchant": merchant,
            "payment": summary(payment),
            "attempts": attempt_rows(payment),
            "events": event_rows(events),
            "routing": routing_view(payment.routing),
            "risk": dict(payment.risk or {}),
        },
    )


@get(f"{PREFIX}/providers", include_in_schema=False)
async def providers_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    """Provider health as routing sees it: circuit state, success rate, latency."""
    operator = await _operator(request)
    if operator is None:
        return _login_redirect()
    providers = await api_context(request).container.check_providers()
    return Template(
        "providers.html.j2",
        context={"operator": operator.merchant_id, "providers": providers},
    )


ROUTES: Final = [login_page, login, logout, payments_page, payment_page, providers_page]
