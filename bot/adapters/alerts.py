"""`POST /alerts/alertmanager`: Alertmanager's webhook (version 4) opens incidents."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from multidict import CIMultiDict
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.config import AlertsConfig, ServiceBinding
from bot.engine.engine import Engine
from bot.engine.incident import BOT, Actor, Incident
from bot.engine.scheduler import process_owner
from bot.errors import BotError
from bot.playbooks.models import Playbook
from bot.redact import redact

ALERTS_PATH = "/alerts/alertmanager"
GROUP = "alert.group"
STATE = "alert.state"
# Alertmanager sends every alert of a group in one body; this allows thousands.
MAX_BODY_BYTES = 1024 * 1024
# Covers the moment from claiming a group to storing its incident; frees it if we die there.
CLAIM_SECONDS = 300.0
ALERTMANAGER = Actor(id="alertmanager", name="Alertmanager")

log = logging.getLogger(__name__)


class _Tolerant(BaseModel):
    # Alertmanager adds fields over time; unknown ones are ignored, not refused.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Alert(_Tolerant):
    status: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def summary(self) -> str:
        text = self.annotations.get("summary") or self.annotations.get("description", "")
        return f"{self.name}: {text}" if text else self.name


class AlertGroupMessage(_Tolerant):
    """One webhook body: a group of alerts that share routing labels."""

    receiver: str = ""
    status: str
    alerts: list[Alert]
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    version: str = "4"
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")

    def key(self) -> str:
        """The dedupe key of the whole message: Alertmanager's groupKey; without one, the same
        shape built from the receiver and the labels the group shares (stable as alerts join
        or leave it); else the alerts' fingerprints (or labels) together."""
        if self.group_key:
            return self.group_key
        grouping = self.group_labels or self.common_labels
        if grouping:
            pairs = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(grouping.items()))
            return f"{self.receiver}:{{{pairs}}}"
        each = sorted(a.fingerprint or json.dumps(a.labels, sort_keys=True) for a in self.alerts)
        return hashlib.sha256("\n".join(each).encode()).hexdigest()[:16]


class AlertListener(Protocol):
    """Shows what alerts did; Slack opens the room and runs the first diagnostics."""

    async def alert_opened(self, incident: Incident, summary: str) -> None: ...

    async def alert_resolved(self, incident: Incident) -> None: ...


def _unauthorized(text: str, config: AlertsConfig) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    if config.bearer_token or not config.password:
        headers.add("WWW-Authenticate", 'Bearer realm="runbook-bot alerts"')
    if config.password:
        headers.add("WWW-Authenticate", 'Basic realm="runbook-bot alerts"')
    return web.Response(status=401, text=text, headers=headers)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authorized(header: str, config: AlertsConfig) -> bool:
    """True when the Authorization header carries the configured bearer token or user:password."""
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if config.bearer_token and scheme.lower() == "bearer":
        return _same(credentials, config.bearer_token)
    if config.password and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        # Both compared every time, so timing does not tell which one was wrong.
        user_ok = _same(user, config.username)
        password_ok = _same(password, config.password)
        return bool(sep) and user_ok and password_ok
    return False


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])[:100] or "body"
    text = f"not an Alertmanager webhook payload: {where}: {first['msg']}"
    return redact(" ".join(text.split()))


class AlertWebhook:
    """Authenticates, parses and dedupes; opens incidents before answering, shows them after."""

    def __init__(self, engine: Engine, listener: AlertListener) -> None:
        self.engine = engine
        self.listener = listener
        self._owner = process_owner()
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        config = self.engine.config.alerts
        if not (config.bearer_token or config.password):
            return _unauthorized("alert webhook credentials are not configured", config)
        if not authorized(request.headers.get("Authorization", ""), config):
            return _unauthorized("missing or wrong credentials", config)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return web.Response(status=413, text="request body too large")
        body = await request.read()  # 413 past the application's client_max_size
        try:
            raw = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="malformed JSON")
        try:
            message = AlertGroupMessage.model_validate(raw)
        except ValidationError as exc:
            return web.Response(status=400, text=_one_line(exc))
        try:
            opened = await self.receive(message)
        except BotError as exc:
            # Alertmanager retries a failed notification; the claim keeps a retry from doubling.
            log.error("%s", redact(f"alert not handled: {exc}"))
            return web.Response(status=503, text="incident store unavailable; retry")
        return web.Response(text=f"ok: {opened} incident(s) opened")

    async def receive(self, message: AlertGroupMessage) -> int:
        """Handle the message's alert group once; returns how many incidents it opened (0 or 1)."""
        key = message.key()
        if not await self.engine.store.claim("alert:" + key, self._owner, CLAIM_SECONDS):
            # Another request or replica is handling this group right now.
            return 0
        try:
            return await self._handle_group(key, message.alerts)
        finally:
            await self.engine.store.release("alert:" + key, self._owner)

    async def drain(self) -> None:
        """Wait for the rooms and diagnostics started after answering (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle_group(self, key: str, alerts: list[Alert]) -> int:
        incident = await self._open_incident(key)
        firing = [a for a in alerts if a.status == "firing"]
        if not firing:
            if incident is not None and incident.links.get(STATE) != "resolved":
                await self.engine.set_links(incident.id, {STATE: "resolved"})
                incident = await self.engine.note(
                    incident.id, BOT, "alert-resolved", "Alertmanager: the alert has resolved"
                )
                self._later(self.listener.alert_resolved(incident), incident.id)
            return 0
        if incident is not None:
            if incident.links.get(STATE) == "resolved":
                await self.engine.set_links(incident.id, {STATE: "firing"})
                await self.engine.note(
                    incident.id, BOT, "alert-firing", "Alertmanager: the alert is firing again"
                )
            return 0
        for alert in firing:
            target = self._target(alert)
            if target is not None:
                playbook, service = target
                summary = alert.summary()
                incident = await self.engine.open(playbook.id, service, ALERTMANAGER, summary)
                await self.engine.set_links(incident.id, {GROUP: key, STATE: "firing"})
                log.warning("%s opened for alert %s on %s", incident.id, alert.name, service)
                self._later(self.listener.alert_opened(incident, summary), incident.id)
                return 1
        names = ", ".join(sorted({a.name or "(no alertname)" for a in firing}))
        log.warning("%s", redact(f"alert acknowledged, no incident: nothing matches {names}"))
        return 0

    def _target(self, alert: Alert) -> tuple[Playbook, str] | None:
        """The playbook listing the alert and the configured service its labels name."""
        for playbook_id in sorted(self.engine.playbooks):
            playbook = self.engine.playbooks[playbook_id]
            if alert.name not in playbook.alerts:
                continue
            for label in playbook.alert_service_labels:
                binding = self.engine.config.services.get(alert.labels.get(label, ""))
                # Several playbooks may answer one alert (APIDown on Kubernetes, on Docker):
                # the service's own bindings and platform pick among them.
                if binding is not None and _runs(binding, playbook):
                    return playbook, alert.labels[label]
            log.info(
                "%s",
                redact(
                    f"alert {alert.name}: labels {', '.join(playbook.alert_service_labels)} "
                    f"name no service that runs playbook {playbook.id}"
                ),
            )
        return None

    async def _open_incident(self, key: str) -> Incident | None:
        for incident in await self.engine.list_incidents("open"):
            if incident.links.get(GROUP) == key:
                return incident
        return None

    def _later(self, work: Coroutine[Any, Any, None], incident_id: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as exc:
                what = f"{type(exc).__name__}: {exc}"
                log.error("%s", redact(f"showing {incident_id} failed: {what}"))

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _runs(binding: ServiceBinding, playbook: Playbook) -> bool:
    if binding.playbooks:
        return playbook.id in binding.playbooks
    return playbook.platform in ("any", binding.platform)
