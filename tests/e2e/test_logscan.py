"""The log scanner the chaos run and the security tests rely on finds what it must find."""

from __future__ import annotations

import jwt

from synccash.chaos import default_secrets, scan_text


def test_a_full_msisdn_is_found_in_any_international_spelling():
    """233XXXXXXXXX and +233XXXXXXXXX are leaks; the masked form is not."""
    leaks = scan_text('{"payer": "233241234567", "to": "+233201234567", "m": "23324****567"}')
    assert len(leaks) == 2


def test_digits_inside_ids_are_not_msisdns():
    """A UUID's all-digit last group or a longer number is not an MSISDN."""
    assert scan_text("ref 8c1f-4a2b-9d3e-233241234567 txn 12332412345678") == []


def test_a_bearer_token_and_default_provider_secrets_are_found():
    """Any JWT, and every default credential from settings.py, is a leak."""
    token = jwt.encode({"sub": "m", "exp": 9999999999}, "k" * 32, algorithm="HS256")
    secrets = default_secrets()
    leaks = scan_text(f"auth {token} " + " ".join(secrets))
    assert (len(leaks), "synccash-collection-key" in secrets) == (1 + len(secrets), True)
