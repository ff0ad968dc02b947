"""Settings from environment variables, parsed once. Nothing else reads os.environ.

With nothing set, SyncCash runs on the embedded default: a SQLite file, an
in-memory queue and the provider sandboxes reached in-process.

Where a value comes from, strongest first: the process environment, then a `.env`
file in the working directory, then the defaults below. Every secret can instead be
read from a file named by `<NAME>_FILE` (container secrets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Final

from attrs import field, frozen
from dotenv import dotenv_values

from synccash.adapters.maintenance import MaintenanceWindow, parse_windows
from synccash.core.errors import UnknownProvider, ValidationError
from synccash.core.money import Money
from synccash.core.providers import ProviderId


class SettingsError(ValidationError):
    """A setting has a value that cannot be used."""

    code = "invalid_setting"


#: Every variable, its default and meaning. `.env.example` and the README table follow this.
VARIABLES: Final[dict[str, tuple[str, str]]] = {
    "DATABASE_URL": (
        "sqlite+aiosqlite:///./var/synccash.sqlite3",
        "SQLAlchemy async URL: postgresql+asyncpg://… or sqlite+aiosqlite:///…",
    ),
    "DATABASE_POOL_SIZE": ("20", "connections kept in the pool (PostgreSQL)"),
    "DATABASE_MAX_OVERFLOW": ("10", "extra connections allowed above the pool size"),
    "REDIS_URL": (
        "",
        "redis://host:6379/0 for the Redis queue, health and rate limits; empty = in-memory (embedded)",
    ),
    "JWT_SECRET_KEY": (
        "dev-secret-change-me-before-production",
        "HS256 key for merchant bearer tokens; outside the embedded default: your own, 32+ bytes",
    ),
    "JWT_ISSUER": ("synccash", "expected `iss` claim of merchant tokens"),
    "JWT_KEY_ID": (
        "synccash-dev",
        "`kid` of the HS256 tokens we mint; tokens naming another are refused",
    ),
    "JWT_MAX_TTL_SECONDS": ("86400", "longest lifetime (exp - iat) an HS256 token may have"),
    "JWT_HS256_ENABLED": (
        "",
        "accept HS256 shared-secret tokens: true/false; empty = yes unless AUTH_JWKS_URL is set",
    ),
    "AUTH_JWKS_URL": (
        "",
        "JWKS of an external identity service (EdDSA, ES256, RS256 tokens); empty = none",
    ),
    "AUTH_ISSUER": ("", "required `iss` of identity-service tokens (needed with AUTH_JWKS_URL)"),
    "AUTH_AUDIENCE": ("", "required `aud` of identity-service tokens (needed with AUTH_JWKS_URL)"),
    "AUTH_MERCHANT_CLAIM": (
        "merchant_id",
        "the claim of identity-service tokens naming the merchant",
    ),
    "API_KEY_SECRET": (
        "dev-api-key-secret-change-me",
        "HMAC key API keys are stored under (keyed hashes); changing it invalidates every key",
    ),
    "MIN_TRANSACTION_AMOUNT": ("1.00", "smallest payment in GHS (decimal string)"),
    "MAX_TRANSACTION_AMOUNT": ("25000.00", "largest payment in GHS (decimal string)"),
    "TRANSACTION_TIMEOUT_SECONDS": (
        "900",
        "a payment not confirmed within this many seconds expires",
    ),
    "RATE_LIMIT_PER_SECOND": ("200", "per-merchant sustained request rate (token bucket refill)"),
    "RATE_LIMIT_BURST": ("400", "per-merchant burst size (token bucket capacity)"),
    "MAX_BODY_BYTES": ("65536", "largest request body the API accepts"),
    "PUBLIC_BASE_URL": ("http://127.0.0.1:8000", "base URL providers call back on"),
    "WEBHOOK_SECRET": (
        "dev-webhook-secret",
        "default HMAC key for signing merchant webhooks; outside the embedded default: your own, 32+ bytes",
    ),
    "WEBHOOK_ALLOWED_TARGETS": (
        "",
        (
            "comma-separated host names, IPs and CIDR networks merchant URLs may reach although "
            "internal, e.g. 127.0.0.1,localhost (local development only; http:// only for these)"
        ),
    ),
    "WEBHOOK_PROXY_URL": (
        "",
        "egress proxy for merchant webhooks, e.g. http://smokescreen:4750; empty = direct",
    ),
    "PROVIDER_TIMEOUT_SECONDS": ("10", "HTTP timeout for provider calls"),
    "SANDBOX_MODE": (
        "embedded",
        "embedded = sandboxes in-process; external = use the *_BASE_URL values",
    ),
    "MTN_BASE_URL": ("http://127.0.0.1:8100/mtn", "MTN MoMo Open API base URL"),
    "MTN_TARGET_ENVIRONMENT": ("sandbox", "X-Target-Environment (sandbox, mtnghana)"),
    "MTN_COLLECTION_USER_ID": ("synccash-collection-user", "MTN API user (collection)"),
    "MTN_COLLECTION_API_KEY": ("synccash-collection-key", "MTN API key (collection)"),
    "MTN_COLLECTION_SUBSCRIPTION_KEY": (
        "synccash-collection-subscription",
        "Ocp-Apim-Subscription-Key (collection)",
    ),
    "MTN_DISBURSEMENT_USER_ID": ("synccash-disbursement-user", "MTN API user (disbursement)"),
    "MTN_DISBURSEMENT_API_KEY": ("synccash-disbursement-key", "MTN API key (disbursement)"),
    "MTN_DISBURSEMENT_SUBSCRIPTION_KEY": (
        "synccash-disbursement-subscription",
        "Ocp-Apim-Subscription-Key (disbursement)",
    ),
    "AIRTELTIGO_BASE_URL": (
        "http://127.0.0.1:8100/airteltigo",
        "AT Money (Airtel Money Open API shape) base URL",
    ),
    "AIRTELTIGO_CLIENT_ID": ("synccash-at-client", "OAuth2 client id"),
    "AIRTELTIGO_CLIENT_SECRET": ("synccash-at-secret", "OAuth2 client secret"),
    "AIRTELTIGO_PIN": ("1234", "disbursement PIN, sent RSA-encrypted with the provider's key"),
    "AIRTELTIGO_RSA_PUBLIC_KEY": (
        "",
        "the provider's RSA public key (PEM or Base64 DER); empty = fetched and cached",
    ),
    "AIRTELTIGO_MESSAGE_SIGNING": (
        "true",
        "sign request bodies with x-signature / x-key: true or false",
    ),
    "AIRTELTIGO_CALLBACK_KEY": (
        "",
        "callback-authentication key: callbacks must carry its hash; empty = not checked",
    ),
    "TELECEL_BASE_URL": (
        "http://127.0.0.1:8100/telecel",
        "Telecel Cash (aggregator receive-money shape) base URL",
    ),
    "TELECEL_CLIENT_ID": ("synccash-telecel-client", "Basic-auth API id"),
    "TELECEL_CLIENT_SECRET": ("synccash-telecel-secret", "Basic-auth API key"),
    "TELECEL_MERCHANT_ACCOUNT": (
        "2017101",
        "Hubtel POS Sales ID (receive money, status, name check)",
    ),
    "TELECEL_PREPAID_ACCOUNT": (
        "2017102",
        "Hubtel Prepaid Deposit account (send money and its status)",
    ),
    "TELECEL_RECEIVE_URL": (
        "",
        "receive-money host, e.g. https://rmp.hubtel.com; empty = TELECEL_BASE_URL",
    ),
    "TELECEL_STATUS_URL": (
        "",
        "transaction-status host, e.g. https://api-txnstatus.hubtel.com; empty = TELECEL_BASE_URL",
    ),
    "TELECEL_SEND_URL": (
        "",
        "send-money host, e.g. https://smp.hubtel.com; empty = TELECEL_BASE_URL",
    ),
    "TELECEL_SEND_STATUS_URL": (
        "",
        "send-money status host, e.g. https://smrsc.hubtel.com; empty = TELECEL_BASE_URL",
    ),
    "TELECEL_VERIFY_URL": (
        "",
        "name-verification host, e.g. https://rnv.hubtel.com; empty = TELECEL_BASE_URL",
    ),
    "CALLBACK_COALESCE_SECONDS": (
        "10",
        (
            "after a callback queued a status check for an attempt, further callbacks for it "
            "that claim the same status queue none for this long"
        ),
    ),
    "CALLBACK_RATE_LIMIT_PER_SECOND": (
        "50",
        "callbacks per provider per API process that may look up an attempt, per second",
    ),
    "CALLBACK_RATE_LIMIT_BURST": ("200", "burst of the per-provider callback rate limit"),
    "MTN_CALLBACK_ALLOWED_IPS": (
        "",
        "comma-separated IPs/CIDR networks MTN callbacks may come from; empty = any",
    ),
    "AIRTELTIGO_CALLBACK_ALLOWED_IPS": (
        "",
        "comma-separated IPs/CIDR networks AT callbacks may come from; empty = any",
    ),
    "TELECEL_CALLBACK_ALLOWED_IPS": (
        "",
        "comma-separated IPs/CIDR networks Telecel callbacks may come from; empty = any",
    ),
    "TRUSTED_PROXY_IPS": (
        "127.0.0.1",
        (
            "comma-separated proxy IPs whose X-Forwarded-For `synccash api` believes "
            "(the client address callbacks are checked against); * = any"
        ),
    ),
    "PROVIDER_MAINTENANCE_WINDOWS": (
        "",
        "announced windows, provider=start/end;... (ISO 8601 with a zone): routed around",
    ),
    "STATUS_QUERY_BUDGETS": (
        "mtn=150",
        "status queries a second per provider and egress address, all workers (MTN: 150)",
    ),
    "PROVIDER_EGRESS_ADDRESS": (
        "default",
        "name of this worker's egress IP: workers with the same one share a status budget",
    ),
    "LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING, ERROR"),
    "LOG_FORMAT": ("json", "json or console"),
    "ENGINE_PROVIDER_HTTP": (
        "fast",
        "provider HTTP client: fast = our HTTP/1.1 engine (engines/http1.py), httpx = plain httpx",
    ),
    "ENGINE_REDIS": (
        "pipelined",
        "hot Redis commands: pipelined = one RESP connection (engines/resp.py), redis-py = redis-py",
    ),
    "ENGINE_GROUP_COMMIT": (
        "on",
        "PostgreSQL group commit and group read (engines/group.py): on or off",
    ),
    "PROMETHEUS_MULTIPROC_DIR": (
        "",
        (
            "directory for Prometheus multiprocess metrics (set it in the process environment "
            "when an API runs several worker processes; `synccash api --workers N` sets one)"
        ),
    ),
}


#: Variables that hold secrets: each also has a `<NAME>_FILE` form, and none is logged.
SECRET_VARIABLES: Final = (
    "JWT_SECRET_KEY",
    "API_KEY_SECRET",
    "WEBHOOK_SECRET",
    "MTN_COLLECTION_API_KEY",
    "MTN_COLLECTION_SUBSCRIPTION_KEY",
    "MTN_DISBURSEMENT_API_KEY",
    "MTN_DISBURSEMENT_SUBSCRIPTION_KEY",
    "AIRTELTIGO_CLIENT_SECRET",
    "AIRTELTIGO_PIN",
    "AIRTELTIGO_RSA_PUBLIC_KEY",
    "AIRTELTIGO_CALLBACK_KEY",
    "TELECEL_CLIENT_SECRET",
)
#: Secrets we choose ourselves (not issued by a provider): random, at least this long.
OWN_SECRETS: Final = ("JWT_SECRET_KEY", "API_KEY_SECRET", "WEBHOOK_SECRET")
MIN_SECRET_BYTES: Final = 32


def process_environment(dotenv: Path | None = Path(".env")) -> dict[str, str]:
    """The process environment over the `dotenv` file's values (if the file exists).

    `None` skips the file; a relative path is read from the working directory. Values are
    taken literally (no `${VAR}` expansion). A secret set in the environment, as NAME or
    NAME_FILE, hides both forms in the file.
    """
    values: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        raw = dotenv_values(dotenv, interpolate=False)
        values = {k: v for k, v in raw.items() if v is not None}
    return _overlay(values, os.environ)


def _overlay(lower: Mapping[str, str], upper: Mapping[str, str]) -> dict[str, str]:
    merged = dict(lower)
    for name in SECRET_VARIABLES:
        if name in upper or f"{name}_FILE" in upper:
            merged.pop(name, None)
            merged.pop(f"{name}_FILE", None)
    return merged | dict(upper)


def _read_secret_files(env: Mapping[str, str]) -> dict[str, str]:
    """`NAME_FILE=/path` becomes `NAME=<file contents without the trailing newline>`."""
    resolved = dict(env)
    for name in SECRET_VARIABLES:
        path = env.get(f"{name}_FILE")
        if not path:
            continue
        if name in env:
            raise SettingsError(f"set {name} or {name}_FILE, not both")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise SettingsError(f"{name}_FILE: cannot read {path!r}: {reason}") from None
        resolved[name] = text.removesuffix("\n").removesuffix("\r")
    return resolved


#: Proxy variables httpx honours; with one set, provider calls go through a client that uses it.
PROXY_VARIABLES: Final = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, VARIABLES[name][0])


def _int(env: Mapping[str, str], name: str, *, minimum: int = 0) -> int:
    raw = _get(env, name)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = _get(env, name).strip().lower()
    if value not in allowed:
        choices = " or ".join(repr(a) for a in allowed)
        raise SettingsError(f"{name} must be {choices}, got {value!r}")
    return value


def _money(env: Mapping[str, str], name: str) -> Money:
    raw = _get(env, name)
    try:
        return Money.parse(raw)
    except ValidationError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _require_own_secret(name: str, value: str) -> None:
    hint = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if value == VARIABLES[name][0]:
        raise SettingsError(
            f"{name} is the published development default; outside the embedded default "
            f"set your own ({hint})"
        )
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"{name} is {len(value.encode())} bytes; at least {MIN_SECRET_BYTES} are "
            f"required outside the embedded default ({hint})"
        )


def _maintenance(env: Mapping[str, str]) -> tuple[MaintenanceWindow, ...]:
    try:
        return parse_windows(_get(env, "PROVIDER_MAINTENANCE_WINDOWS"))
    except ValueError as exc:
        raise SettingsError(f"PROVIDER_MAINTENANCE_WINDOWS: {exc}") from None


def _budgets(env: Mapping[str, str]) -> dict[ProviderId, int]:
    """STATUS_QUERY_BUDGETS (`mtn=150,telecel=20`) as per-provider requests a second."""
    budgets: dict[ProviderId, int] = {}
    for part in (p.strip() for p in _get(env, "STATUS_QUERY_BUDGETS").split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        try:
            provider: ProviderId | None = ProviderId.parse(name.strip())
        except UnknownProvider:
            provider = None
        if provider is None or not sep or not value.strip().isdigit() or int(value) < 1:
            raise SettingsError(
                f"STATUS_QUERY_BUDGETS: expected provider=per-second (e.g. mtn=150), got {part!r}"
            )
        budgets[provider] = int(value)
    return budgets


def _hs256_enabled(env: Mapping[str, str]) -> bool:
    """JWT_HS256_ENABLED: explicit true/false; empty = on unless an identity service is set."""
    raw = _get(env, "JWT_HS256_ENABLED").strip().lower()
    if raw == "":
        return not _get(env, "AUTH_JWKS_URL").strip()
    if raw not in ("true", "false"):
        raise SettingsError(f"JWT_HS256_ENABLED must be true, false or empty, got {raw!r}")
    return raw == "true"


def _external_identity(env: Mapping[str, str]) -> str:
    """AUTH_JWKS_URL, checked: an http(s) URL, and issuer and audience set beside it."""
    url = _get(env, "AUTH_JWKS_URL").strip()
    if not url:
        return ""
    if not url.startswith(("https://", "http://")):
        raise SettingsError(f"AUTH_JWKS_URL must be an http(s) URL, got {url!r}")
    for name in ("AUTH_ISSUER", "AUTH_AUDIENCE"):
        if not _get(env, name).strip():
            raise SettingsError(f"{name} must be set when AUTH_JWKS_URL is")
    return url


def _airtel_extra(env: Mapping[str, str]) -> dict[str, str]:
    """AT Money's PIN, key and signing (Airtel Money Open API security)."""
    signing = _get(env, "AIRTELTIGO_MESSAGE_SIGNING").strip().lower()
    if signing not in ("true", "false"):
        raise SettingsError(f"AIRTELTIGO_MESSAGE_SIGNING must be true or false, got {signing!r}")
    return {
        "pin": _get(env, "AIRTELTIGO_PIN"),
        "rsa_public_key": _get(env, "AIRTELTIGO_RSA_PUBLIC_KEY"),
        "message_signing": signing,
        "callback_key": _get(env, "AIRTELTIGO_CALLBACK_KEY"),
    }


def _telecel_extra(env: Mapping[str, str]) -> dict[str, str]:
    """Hubtel's accounts and one URL per Hubtel host (empty: TELECEL_BASE_URL serves it)."""
    base = _get(env, "TELECEL_BASE_URL").rstrip("/")
    extra = {
        "merchant_account": _get(env, "TELECEL_MERCHANT_ACCOUNT"),
        "prepaid_account": _get(env, "TELECEL_PREPAID_ACCOUNT"),
    }
    for name in ("receive", "status", "send", "send_status", "verify"):
        extra[f"{name}_url"] = (_get(env, f"TELECEL_{name.upper()}_URL") or base).rstrip("/")
    return extra


def _networks(env: Mapping[str, str], name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    raw = _get(env, name)
    try:
        return tuple(ip_network(p.strip(), strict=False) for p in raw.split(",") if p.strip())
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


@frozen
class CallbackLimits:
    """What bounds the work provider callbacks can cause (they are unauthenticated hints)."""

    coalesce_seconds: int = 10
    per_second: int = 50
    burst: int = 200
    #: provider id value -> networks its callbacks may come from (absent or empty = any)
    allowed_sources: Mapping[str, tuple[IPv4Network | IPv6Network, ...]] = field(factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CallbackLimits:
        """Parse the CALLBACK_* and <PROVIDER>_CALLBACK_ALLOWED_IPS variables."""
        return cls(
            coalesce_seconds=_int(env, "CALLBACK_COALESCE_SECONDS"),
            per_second=_int(env, "CALLBACK_RATE_LIMIT_PER_SECOND", minimum=1),
            burst=_int(env, "CALLBACK_RATE_LIMIT_BURST", minimum=1),
            allowed_sources={
                provider: _networks(env, f"{provider.upper()}_CALLBACK_ALLOWED_IPS")
                for provider in ("mtn", "airteltigo", "telecel")
            },
        )


@frozen
class ProviderCredentials:
    """One provider's base URL and credentials (never logged: repr hides secrets)."""

    base_url: str
    user: str = field(repr=False)
    secret: str = field(repr=False)
    subscription_key: str = field(default="", repr=False)
    extra: Mapping[str, str] = field(factory=dict, repr=False)


@frozen
class Settings:
    """All configuration, typed."""

    database_url: str
    database_pool_size: int
    database_max_overflow: int
    redis_url: str
    jwt_secret_key: str = field(repr=False)
    jwt_issuer: str
    api_key_secret: str = field(repr=False)
    jwt_key_id: str
    jwt_max_ttl_seconds: int
    jwt_hs256_enabled: bool
    auth_jwks_url: str
    auth_issuer: str
    auth_audience: str
    auth_merchant_claim: str
    min_amount: Money
    max_amount: Money
    transaction_timeout_seconds: int
    rate_limit_per_second: int
    rate_limit_burst: int
    max_body_bytes: int
    public_base_url: str
    webhook_secret: str = field(repr=False)
    webhook_allowed_targets: str
    webhook_proxy_url: str
    provider_timeout_seconds: float
    sandbox_mode: str
    mtn_target_environment: str
    mtn_collection: ProviderCredentials
    mtn_disbursement: ProviderCredentials
    airteltigo: ProviderCredentials
    telecel: ProviderCredentials
    log_level: str
    log_format: str
    #: Prometheus multiprocess mode: /metrics aggregates every process's files from here.
    prometheus_multiproc_dir: str = ""
    #: HTTPS_PROXY / ALL_PROXY is set: provider calls use a plain httpx client that honours it.
    provider_proxy: bool = False
    callbacks: CallbackLimits = field(factory=CallbackLimits)
    trusted_proxy_ips: str = "127.0.0.1"
    #: The engines (see `synccash.adapters.engines`), each switchable to the plain library.
    engine_provider_http: str = "fast"
    engine_redis: str = "pipelined"
    engine_group_commit: bool = True
    #: Announced maintenance windows (routing treats the provider as open-circuit).
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    #: Status queries a second per provider (and egress address), shared by every worker.
    status_query_budgets: Mapping[ProviderId, int] = field(factory=dict)
    provider_egress_address: str = "default"

    @property
    def is_postgres(self) -> bool:
        """True when the database is PostgreSQL."""
        return self.database_url.startswith("postgresql")

    @property
    def embedded_sandboxes(self) -> bool:
        """True when provider sandboxes run in-process (httpx ASGI transport)."""
        return self.sandbox_mode == "embedded"

    @property
    def is_embedded(self) -> bool:
        """True on the embedded default: SQLite, no Redis, sandboxes in-process."""
        return not self.is_postgres and not self.redis_url and self.embedded_sandboxes

    def secrets(self) -> dict[str, tuple[str, str]]:
        """Each secret variable's value and the base URL it is sent to ("" for our own)."""
        mtn, mtn_out = self.mtn_collection, self.mtn_disbursement
        return {
            "JWT_SECRET_KEY": (self.jwt_secret_key, ""),
            "API_KEY_SECRET": (self.api_key_secret, ""),
            "WEBHOOK_SECRET": (self.webhook_secret, ""),
            "MTN_COLLECTION_API_KEY": (mtn.secret, mtn.base_url),
            "MTN_COLLECTION_SUBSCRIPTION_KEY": (mtn.subscription_key, mtn.base_url),
            "MTN_DISBURSEMENT_API_KEY": (mtn_out.secret, mtn_out.base_url),
            "MTN_DISBURSEMENT_SUBSCRIPTION_KEY": (mtn_out.subscription_key, mtn_out.base_url),
            "AIRTELTIGO_CLIENT_SECRET": (self.airteltigo.secret, self.airteltigo.base_url),
            "AIRTELTIGO_PIN": (self.airteltigo.extra["pin"], self.airteltigo.base_url),
            # Neither is sent anywhere: the provider's public key, and the key we check
            # its callbacks with.
            "AIRTELTIGO_RSA_PUBLIC_KEY": (self.airteltigo.extra["rsa_public_key"], ""),
            "AIRTELTIGO_CALLBACK_KEY": (self.airteltigo.extra["callback_key"], ""),
            "TELECEL_CLIENT_SECRET": (self.telecel.secret, self.telecel.base_url),
        }

    def require_safe_secrets(self) -> None:
        """Refuse published defaults and short secrets outside the embedded default.

        Our own secrets (JWT_SECRET_KEY, WEBHOOK_SECRET) must be at least 32 bytes and
        not the documented default. A provider credential must not be the published
        sandbox default once it is sent over https (to a real provider); sandboxes
        reached over plain http accept only those defaults.

        Raises:
            SettingsError: naming the first variable that is not safe.
        """
        if self.is_embedded:
            return
        for name, (value, sent_to) in self.secrets().items():
            if name in OWN_SECRETS:
                _require_own_secret(name, value)
            elif sent_to.startswith("https://") and value == VARIABLES[name][0]:
                raise SettingsError(
                    f"{name} is the published sandbox default but {sent_to} is a real provider"
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse settings from a mapping (default: the process environment over `./.env`)."""
        env = _read_secret_files(process_environment() if env is None else env)
        unknown_mode = _get(env, "SANDBOX_MODE")
        if unknown_mode not in ("embedded", "external"):
            raise SettingsError(
                f"SANDBOX_MODE must be 'embedded' or 'external', got {unknown_mode!r}"
            )
        min_amount, max_amount = (
            _money(env, "MIN_TRANSACTION_AMOUNT"),
            _money(env, "MAX_TRANSACTION_AMOUNT"),
        )
        if not min_amount.is_positive or min_amount > max_amount:
            raise SettingsError(
                "MIN_TRANSACTION_AMOUNT must be positive and not above MAX_TRANSACTION_AMOUNT"
            )
        db = _get(env, "DATABASE_URL")
        if not db.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise SettingsError(
                "DATABASE_URL must start with postgresql+asyncpg:// or sqlite+aiosqlite://"
            )
        log_format = _get(env, "LOG_FORMAT")
        if log_format not in ("json", "console"):
            raise SettingsError(f"LOG_FORMAT must be 'json' or 'console', got {log_format!r}")
        return cls(
            database_url=db,
            database_pool_size=_int(env, "DATABASE_POOL_SIZE", minimum=1),
            database_max_overflow=_int(env, "DATABASE_MAX_OVERFLOW"),
            redis_url=_get(env, "REDIS_URL"),
            jwt_secret_key=_get(env, "JWT_SECRET_KEY"),
            jwt_issuer=_get(env, "JWT_ISSUER"),
            api_key_secret=_get(env, "API_KEY_SECRET"),
            jwt_key_id=_get(env, "JWT_KEY_ID"),
            jwt_max_ttl_seconds=_int(env, "JWT_MAX_TTL_SECONDS", minimum=60),
            jwt_hs256_enabled=_hs256_enabled(env),
            auth_jwks_url=_external_identity(env),
            auth_issuer=_get(env, "AUTH_ISSUER"),
            auth_audience=_get(env, "AUTH_AUDIENCE"),
            auth_merchant_claim=_get(env, "AUTH_MERCHANT_CLAIM").strip() or "merchant_id",
            min_amount=min_amount,
            max_amount=max_amount,
            transaction_timeout_seconds=_int(env, "TRANSACTION_TIMEOUT_SECONDS", minimum=1),
            rate_limit_per_second=_int(env, "RATE_LIMIT_PER_SECOND", minimum=1),
            rate_limit_burst=_int(env, "RATE_LIMIT_BURST", minimum=1),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", minimum=1024),
            public_base_url=_get(env, "PUBLIC_BASE_URL").rstrip("/"),
            webhook_secret=_get(env, "WEBHOOK_SECRET"),
            webhook_allowed_targets=_get(env, "WEBHOOK_ALLOWED_TARGETS"),
            webhook_proxy_url=_get(env, "WEBHOOK_PROXY_URL"),
            provider_timeout_seconds=float(_int(env, "PROVIDER_TIMEOUT_SECONDS", minimum=1)),
            sandbox_mode=unknown_mode,
            mtn_target_environment=_get(env, "MTN_TARGET_ENVIRONMENT"),
            mtn_collection=ProviderCredentials(
                _get(env, "MTN_BASE_URL").rstrip("/"),
                _get(env, "MTN_COLLECTION_USER_ID"),
                _get(env, "MTN_COLLECTION_API_KEY"),
                _get(env, "MTN_COLLECTION_SUBSCRIPTION_KEY"),
            ),
            mtn_disbursement=ProviderCredentials(
                _get(env, "MTN_BASE_URL").rstrip("/"),
                _get(env, "MTN_DISBURSEMENT_USER_ID"),
                _get(env, "MTN_DISBURSEMENT_API_KEY"),
                _get(env, "MTN_DISBURSEMENT_SUBSCRIPTION_KEY"),
            ),
            airteltigo=ProviderCredentials(
                _get(env, "AIRTELTIGO_BASE_URL").rstrip("/"),
                _get(env, "AIRTELTIGO_CLIENT_ID"),
                _get(env, "AIRTELTIGO_CLIENT_SECRET"),
                extra=_airtel_extra(env),
            ),
            telecel=ProviderCredentials(
                _get(env, "TELECEL_BASE_URL").rstrip("/"),
                _get(env, "TELECEL_CLIENT_ID"),
                _get(env, "TELECEL_CLIENT_SECRET"),
                extra=_telecel_extra(env),
            ),
            log_level=_get(env, "LOG_LEVEL").upper(),
            log_format=log_format,
            prometheus_multiproc_dir=_get(env, "PROMETHEUS_MULTIPROC_DIR"),
            provider_proxy=any(env.get(name) for name in PROXY_VARIABLES),
            callbacks=CallbackLimits.from_env(env),
            trusted_proxy_ips=_get(env, "TRUSTED_PROXY_IPS"),
            engine_provider_http=_choice(env, "ENGINE_PROVIDER_HTTP", ("fast", "httpx")),
            engine_redis=_choice(env, "ENGINE_REDIS", ("pipelined", "redis-py")),
            engine_group_commit=_choice(env, "ENGINE_GROUP_COMMIT", ("on", "off")) == "on",
            maintenance_windows=_maintenance(env),
            status_query_budgets=_budgets(env),
            provider_egress_address=_get(env, "PROVIDER_EGRESS_ADDRESS").strip() or "default",
        )
