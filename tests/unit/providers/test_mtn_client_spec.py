"""The MTN client's request bodies validate against MTN's Swagger 2.0 definitions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from provider_fakes import MTN_COLLECTION, MTN_DISBURSEMENT, FakeClock, FakeProvider, body_of, jresp
from provider_fakes import attempt as make_attempt

from synccash.adapters.providers import MtnMomoClient
from synccash.core.payment import AttemptKind

SPECS = Path("/work/shared/provider-specs/mtn-momo/swagger2-egbordzor-momo-go")


def strict(schema: Any) -> Any:
    """The schema with additionalProperties=false on every object (we send nothing undocumented)."""
    schema = copy.deepcopy(schema)
    if isinstance(schema, dict):
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
        return {k: strict(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def definition(spec: str, name: str) -> dict[str, Any]:
    """One definition of a Swagger file, with its $refs resolvable."""
    doc = json.loads((SPECS / spec).read_text())
    definitions = strict(doc["definitions"])
    return {**definitions[name], "definitions": definitions}


@pytest.mark.skipif(not SPECS.exists(), reason="shared provider specs not mounted")
@pytest.mark.parametrize(
    ("kind", "path", "spec", "name"),
    [
        (AttemptKind.COLLECT, "/collection/v1_0/requesttopay", "collection.json", "RequestToPay"),
        (AttemptKind.DISBURSE, "/disbursement/v1_0/transfer", "disbursements.json", "Transfer"),
    ],
)
async def test_request_bodies_match_the_swagger(kind, path, spec, name):
    """requesttopay and transfer bodies are exactly the Swagger's shapes."""
    fake = FakeProvider()
    fake.on(
        "POST",
        f"/{path.split('/')[1]}/token/",
        jresp(200, {"access_token": "t", "expires_in": 3600}),
    )
    fake.on("POST", path, httpx.Response(202))
    client = MtnMomoClient(
        fake.client(),
        collection=MTN_COLLECTION,
        disbursement=MTN_DISBURSEMENT,
        target_environment="mtnghana",
        clock=FakeClock(),
    )
    await client.submit(make_attempt(kind))
    body = body_of(fake.calls("POST", path)[0])
    jsonschema.validate(body, definition(spec, name))
