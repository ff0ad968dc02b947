"""One structured log line per request; MSISDNs masked, tokens never logged."""

from __future__ import annotations

import json
import logging

from api_helpers import MERCHANT

from synccash.api.observability import ACCESS_LOGGER, JsonLogFormatter, mask, mask_value


async def test_one_access_line_per_request(client, initiate, caplog):
    """Each request logs request id, merchant, route template, status and duration."""
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        response = await initiate()
    records = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(records) == 1
    fields = records[0].fields
    assert fields["request_id"] == response.headers["x-request-id"]
    assert fields["merchant"] == MERCHANT
    assert fields["route"] == "/api/v1/payments/initiate"
    assert fields["status"] == 202
    assert fields["duration_ms"] >= 0


async def test_formatted_line_masks_msisdns_and_hides_tokens(client, auth, caplog):
    """The JSON line has no full MSISDN and no bearer token."""
    headers = auth()
    token = headers["Authorization"].split()[1]
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        await client.post("/api/v1/callbacks/mtn/0241234567", content=b"{}", headers=headers)
    line = JsonLogFormatter().format(caplog.records[-1])
    parsed = json.loads(line)
    assert parsed["path"] == "/api/v1/callbacks/mtn/23324****567"
    assert "0241234567" not in line
    assert token not in line


def test_mask_covers_every_spelling_and_tokens():
    """233…, +233… and 0… forms are masked; bearer tokens are redacted."""
    assert mask("payer 233241234567") == "payer 23324****567"
    assert mask("+233201234567") == "23320****567"
    assert mask("0551234567 and 0241234567") == "23355****567 and 23324****567"
    assert mask("Authorization: Bearer abc.def.ghi") == "Authorization: Bearer [redacted]"
    assert mask("order 12345") == "order 12345"


def test_mask_leaves_text_without_a_number_or_token_alone_and_finds_the_rest():
    """The quick pre-check never skips a maskable string (long numbers, any case of bearer)."""
    assert mask("route /api/v1/payments/{payment_id}") == "route /api/v1/payments/{payment_id}"
    assert mask("id 12345678901234") == "id 12345678901234"  # 10+ digits but no MSISDN
    assert mask("x0241234567y") == "x23324****567y"
    assert mask("BEARER\tabc") == "BEARER\t[redacted]"
    assert mask_value({"a": ["0241234567", 3, None, 1.5]}) == {"a": ["23324****567", 3, None, 1.5]}


def test_plain_messages_are_masked():
    """The formatter renders plain messages as `event`."""
    record = logging.LogRecord(
        "synccash.api", logging.INFO, __file__, 1, "hello %s", ("0241234567",), None
    )
    assert json.loads(JsonLogFormatter().format(record))["event"] == "hello 23324****567"


async def test_incoming_request_id_is_echoed(client):
    """A sane X-Request-ID is kept; a hostile one is replaced."""
    kept = await client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    replaced = await client.get("/api/v1/health", headers={"X-Request-ID": "bad id\n"})
    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] not in ("", "bad id\n")
