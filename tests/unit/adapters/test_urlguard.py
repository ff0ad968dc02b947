"""SSRF guard: every internal target form is refused statically or at resolution; no network."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from synccash.adapters.urlguard import UnsafeUrl, UrlGuard

#: The 18 internal targets of the security finding (issue 16), plus the forms around them.
INTERNAL_URLS = [
    "https://127.0.0.1:5432/",  # PostgreSQL's port on loopback
    "https://127.0.0.1:6379/",  # Redis
    "https://localhost:8100/mtn/admin",  # the sandbox admin API
    "https://[::1]/hooks",
    "https://169.254.169.254/latest/meta-data/",  # AWS/GCP/Azure metadata
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://[fd00:ec2::254]/latest/meta-data/",  # AWS IMDS over IPv6 (ULA)
    "https://10.0.0.1/hooks",
    "https://172.16.0.1/hooks",
    "https://192.168.1.1/hooks",
    "https://2130706433/hooks",  # 127.0.0.1 in decimal
    "https://0x7f000001/hooks",  # in hex
    "https://0177.0.0.1/hooks",  # in octal
    "https://127.1/hooks",  # shortened
    "https://user@merchant.example/hooks",  # userinfo
    "https://merchant.example@127.0.0.1/hooks",  # userinfo hiding the real host
    "https://user:pw@merchant.example/hooks",
    "https://100.64.0.1/hooks",  # CGNAT
    "https://224.0.0.1/hooks",  # multicast
    "https://255.255.255.255/hooks",  # broadcast
    "https://0.0.0.0/hooks",
    "https://[::]/hooks",
    "https://[fe80::1]/hooks",  # IPv6 link-local
    "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped IPv6
    "https://[::ffff:7f00:1]/hooks",
    "https://[2002:7f00:1::]/hooks",  # 6to4 embedding 127.0.0.1
    "https://[64:ff9b::a00:1]/hooks",  # NAT64 of 10.0.0.1
    "https://[ff02::1]/hooks",  # IPv6 multicast
    "https://metadata/computeMetadata/v1/",
    "https://postgres/",  # single-label: a search-domain lookup finds internal hosts
    "https://printer.local/",
    "https://api.internal/",
    "https://app.localhost/",
    "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hooks",  # fullwidth 127.0.0.1 (IDNA maps it)
    "http://merchant.example/hooks",  # plain http outside development
    "https://127.0.0.1.nip.io.127.0.0.1/",  # ends in a numeric label that is no address
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_targets_are_refused_at_registration(url: str):
    """Each form is refused by the static check, with a stable code."""
    with pytest.raises(UnsafeUrl) as refused:
        UrlGuard().check(url)
    assert refused.value.code in ("webhook_url_not_allowed", "invalid_webhook_url")


@pytest.mark.parametrize(
    "url", ["ftp://merchant.example/", "https://", "https://[zz::1]/", "https://a b.example/"]
)
def test_malformed_urls_are_invalid(url: str):
    """Not a usable http(s) URL at all: invalid_webhook_url."""
    with pytest.raises(UnsafeUrl) as refused:
        UrlGuard().check(url)
    assert refused.value.code == "invalid_webhook_url"


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://merchant.example/hooks", "merchant.example", 443),
        ("https://Hooks.Merchant.Example.:8443/x?y=1", "hooks.merchant.example", 8443),
        ("https://8.8.8.8/hooks", "8.8.8.8", 443),
        ("https://[2606:4700::1111]/hooks", "2606:4700::1111", 443),
    ],
)
def test_public_https_urls_pass(url: str, host: str, port: int):
    """Public names and addresses over https pass, normalised."""
    target = UrlGuard().check(url)
    assert (host, port) == (target.host, target.port)


def test_the_allowlist_admits_named_hosts_and_networks_with_plain_http():
    """Local development: allowlisted names and networks pass, http included; others do not."""
    guard = UrlGuard.from_setting("localhost, 127.0.0.0/8,::1")
    for url in ("http://localhost:9000/h", "http://127.0.0.1:9000/h", "https://[::1]/h"):
        guard.check(url)
    for url in ("http://10.0.0.1/h", "https://169.254.169.254/", "https://2130706433/"):
        with pytest.raises(UnsafeUrl):
            guard.check(url)


def resolver(answers: dict[str, Sequence[str]]):
    """A resolver answering from a table (no DNS traffic)."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        return answers.get(host, ())

    return resolve


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],
        ["93.184.216.34", "10.1.2.3"],  # one bad answer among good ones
        ["2606:2800:220:1::1", "::1"],
        ["169.254.169.254"],
        ["::ffff:10.0.0.1"],
    ],
)
async def test_a_name_resolving_to_an_internal_address_is_refused(answers: list[str]):
    """DNS answers are checked, every one of them (rebinding to internal gains nothing)."""
    guard = UrlGuard(resolver=resolver({"hooks.merchant.example": answers}))
    guard.check("https://hooks.merchant.example/h")  # the name alone is fine
    with pytest.raises(UnsafeUrl) as refused:
        await guard.resolve("hooks.merchant.example", 443)
    assert "resolves to" in refused.value.message


async def test_public_answers_are_returned_in_order_and_unresolvable_names_refused():
    """Good answers come back as given; a name without answers is refused."""
    guard = UrlGuard(resolver=resolver({"a.example": ["93.184.216.34", "2606:2800:220:1::1"]}))
    assert await guard.resolve("a.example", 443) == ["93.184.216.34", "2606:2800:220:1::1"]
    with pytest.raises(UnsafeUrl):
        await guard.resolve("nothing.example", 443)


async def test_allowlisted_networks_admit_their_resolved_addresses():
    """A name resolving into an allowlisted network is admitted at delivery."""
    guard = UrlGuard(["127.0.0.0/8"], resolver=resolver({"hooks.test": ["127.0.0.1"]}))
    assert await guard.resolve("hooks.test", 80) == ["127.0.0.1"]
