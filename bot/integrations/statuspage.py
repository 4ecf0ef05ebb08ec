"""A Statuspage-style API: open, update and resolve the public incident behind an incident."""

from __future__ import annotations

from typing import Any, Literal

import httpx

from bot.config import StatuspageConfig
from bot.integrations.errors import IntegrationError, check, failure

PageStatus = Literal["investigating", "identified", "monitoring", "resolved"]


class StatuspageClient:
    def __init__(self, config: StatuspageConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self._incidents = f"{config.base_url}/pages/{config.page_id}/incidents"
        self._headers = {"Authorization": f"OAuth {config.token}"}

    async def create(self, name: str, body: str, impact: str | None = None) -> str:
        """Open a public incident as investigating; returns its id on the status page."""
        what = "status page: could not open the incident"
        found = await self._send("POST", self._incidents, name, "investigating", body, what, impact)
        page_id = found.get("id") if isinstance(found, dict) else None
        if not isinstance(page_id, str) or not page_id:
            raise IntegrationError(f"{what}: the answer has no incident id")
        return page_id

    async def update(
        self, page_incident: str, status: PageStatus, body: str, impact: str | None = None
    ) -> None:
        what = f"status page: could not mark the incident {status}"
        url = f"{self._incidents}/{page_incident}"
        await self._send("PATCH", url, None, status, body, what, impact)

    async def _send(
        self,
        method: str,
        url: str,
        name: str | None,
        status: PageStatus,
        body: str,
        what: str,
        impact: str | None = None,
    ) -> Any:
        incident: dict[str, str] = {"status": status, "body": body}
        if name is not None:
            incident = {"name": name, **incident}
        if impact is not None:
            # The runbook's `incident[impact_override]=major`: the page shows this impact.
            incident["impact_override"] = impact
        try:
            response = await self.http.request(
                method, url, json={"incident": incident}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise failure(exc, what) from None
        check(response, what)
        try:
            return response.json()
        except ValueError:
            return None
