"""One small raw-HTTP driver per provider so a test can run the same scenario on all three."""

from __future__ import annotations

import httpx
from sandbox_at_wire import at_headers, pay
from sandbox_mtn_wire import auth, request_to_pay, rtp_status
from sandbox_telecel_wire import receive, status


class Driver:
    """Submit a collection and read its state back, in the provider's own words."""

    def __init__(self, provider: str, http: httpx.AsyncClient, base: str) -> None:
        self.provider = provider
        self.http = http
        self.base = f"{base}/{provider}"
        self._headers: dict[str, str] | None = None

    async def headers(self) -> dict[str, str]:
        """Auth headers (token fetched once)."""
        if self._headers is None:
            if self.provider == "mtn":
                self._headers = await auth(self.http, self.base)
            elif self.provider == "airteltigo":
                self._headers = await at_headers(self.http, self.base)
            else:
                self._headers = {}
        return self._headers

    def forget_token(self) -> None:
        """Fetch a new token next time (after moving the clock past its expiry)."""
        self._headers = None

    async def collect(
        self, key: str, amount: int = 10, callback: str | None = None
    ) -> tuple[str, httpx.Response]:
        """Start a collection from canonical number ``key``; (reference, submit response)."""
        headers = await self.headers()
        if self.provider == "mtn":
            return await request_to_pay(
                self.http, self.base, headers, key, amount=str(amount), callback=callback
            )
        if self.provider == "airteltigo":
            extra = {"X-Callback-Url": callback} if callback else None
            return await pay(
                self.http, self.base, headers, key[3:], amount=amount, extra_headers=extra
            )
        return await receive(
            self.http, self.base, key, amount=amount, callback=callback or "http://127.0.0.1:9/x"
        )

    async def state(self, reference: str) -> tuple[str, str | None]:
        """(status word, detail code) exactly as the provider reports it; ("404", None) if unknown."""
        headers = await self.headers()
        if self.provider == "mtn":
            response = await rtp_status(self.http, self.base, headers, reference)
            if response.status_code == 404:
                return "404", None
            body = response.json()
            return body["status"], body.get("reason")
        if self.provider == "airteltigo":
            response = await self.http.get(
                f"{self.base}/standard/v1/payments/{reference}", headers=headers
            )
            body = response.json()
            if body["status"]["success"] is False:
                return "404", body["status"]["response_code"]
            return body["data"]["transaction"]["status"], body["status"]["response_code"]
        response = await status(self.http, self.base, reference)
        if response.status_code == 404:
            return "404", None
        body = response.json()
        return body["data"]["status"], body["responseCode"]
