"""Provider HTTP clients (MTN MoMo, AT Money, Telecel Cash), the gateway and callback parsing.

Every client takes an injected `httpx.AsyncClient`, maps every provider answer
into the core's `ProviderOutcome` through a data-driven table per provider,
and never raises for a provider's answer.
"""

from synccash.adapters.engines.http1 import ProviderTransport, provider_http_client
from synccash.adapters.providers._model import (
    Balance,
    LookupUnavailable,
    ProviderClient,
    callback_url,
)
from synccash.adapters.providers._table import Operation, OutcomeTable, Rule
from synccash.adapters.providers.airteltigo import AIRTEL_CODES, AIRTEL_STATUSES, AirtelTigoClient
from synccash.adapters.providers.callbacks import CallbackHint, callback_authentic, parse_callback
from synccash.adapters.providers.gateway import MultiProviderGateway, build_gateway
from synccash.adapters.providers.mtn import MTN_CODES, MTN_STATUSES, MtnMomoClient
from synccash.adapters.providers.telecel import (
    TELECEL_CODES,
    TELECEL_STATUSES,
    HubtelHosts,
    TelecelCashClient,
)

__all__ = [
    "AIRTEL_CODES",
    "AIRTEL_STATUSES",
    "MTN_CODES",
    "MTN_STATUSES",
    "TELECEL_CODES",
    "TELECEL_STATUSES",
    "AirtelTigoClient",
    "Balance",
    "CallbackHint",
    "HubtelHosts",
    "LookupUnavailable",
    "MtnMomoClient",
    "MultiProviderGateway",
    "Operation",
    "OutcomeTable",
    "ProviderClient",
    "ProviderTransport",
    "Rule",
    "TelecelCashClient",
    "build_gateway",
    "callback_authentic",
    "callback_url",
    "parse_callback",
    "provider_http_client",
]
