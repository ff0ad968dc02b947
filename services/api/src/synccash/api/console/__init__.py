"""The ops console: server-rendered pages for the people who run SyncCash.

Payments search, a payment's timeline (audit trail, attempts, routing explanation with the
rejected candidates, risk reasons), and provider health with circuit state. Jinja templates
rendered by Litestar, no front-end build step and no JavaScript. Behind its own login: an
operator pastes a credential carrying the `ops` scope; it is kept in an HttpOnly,
SameSite=Strict cookie scoped to /console and verified on every request exactly as the API
verifies a bearer token.
"""

from synccash.api.console._pages import ROUTES, template_config

__all__ = ["ROUTES", "template_config"]
