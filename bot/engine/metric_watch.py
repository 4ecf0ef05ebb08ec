"""Evaluates escalation levels' metric conditions against Prometheus and records when each
began to hold, so a level fires once its condition has held as long as the playbook says."""

from __future__ import annotations

import logging
import re

import httpx

from bot.config import PrometheusConfig, ServiceBinding
from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.errors import BotError, InvalidRequest
from bot.executors.params import PLACEHOLDER
from bot.executors.prometheus import PrometheusQuery, promql_string
from bot.playbooks.models import EscalationLevel
from bot.redact import redact

log = logging.getLogger(__name__)

_TIMEOUT_S = 10.0


def bind_query(query: str, binding: ServiceBinding, service: str) -> str:
    """The query with `${service.*}` filled, each value escaped as a PromQL string's content."""

    def fill(match: re.Match[str]) -> str:
        value = binding.lookup(match.group(1))
        if value is None:
            raise InvalidRequest(
                f"service '{service}' has no {match.group(1).removeprefix('service.')} configured"
            )
        return promql_string(str(value))

    return PLACEHOLDER.sub(fill, query)


class MetricWatch:
    """Run every `interval` seconds by the scheduler; changes only what changed."""

    def __init__(
        self, engine: Engine, config: PrometheusConfig, http: httpx.AsyncClient | None = None
    ) -> None:
        self.engine = engine
        self.interval = config.interval_seconds
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=_TIMEOUT_S)
        self.prometheus = PrometheusQuery(config, self._http)
        # Last failure reason per incident and level, so a down Prometheus is logged once.
        self._failing: dict[tuple[str, int], str] = {}

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def evaluate(self) -> None:
        """Evaluate every open incident's waiting metric conditions once."""
        try:
            incidents = await self.engine.list_incidents("open")
        except BotError as exc:
            log.warning("metric conditions not evaluated: %s", exc)
            return
        # A drill's service is a sandbox: the real metrics say nothing about it.
        for incident in (i for i in incidents if i.drill is None):
            try:
                levels = _waiting(incident, self.engine.playbook_for(incident).escalation)
            except BotError:
                continue
            for level in levels:
                await self._evaluate(incident, level)

    async def _evaluate(self, incident: Incident, level: EscalationLevel) -> None:
        assert level.metric is not None
        key = (incident.id, level.level)
        try:
            binding = self.engine.config.binding(incident.service)
            query = bind_query(level.metric.query, binding, incident.service)
            samples = await self.prometheus.samples(query)
        except BotError as exc:
            # Unknown is not "holds" nor "cleared": the record stays as it was.
            reason = redact(str(exc))
            if self._failing.get(key) != reason:
                self._failing[key] = reason
                log.warning("%s level %d condition not evaluated: %s", *key, reason)
            return
        self._failing.pop(key, None)
        holding = level.level in incident.timers.conditions
        if bool(samples) == holding:
            return
        since = self.engine.clock() if samples else None
        detail = f"{level.metric.query} = {'; '.join(samples)[:300]}"
        try:
            await self.engine.metric_condition(incident.id, level.level, since, redact(detail))
        except BotError as exc:
            log.info("%s level %d condition not recorded: %s", *key, exc)


def _waiting(incident: Incident, levels: list[EscalationLevel]) -> list[EscalationLevel]:
    """Metric levels not escalated, acknowledged or fired yet."""
    state = incident.timers
    fired = {key.split("@", 1)[0] for key in state.fired}
    return [
        level
        for level in levels
        if level.metric is not None
        and level.level not in state.escalated
        and level.level not in state.acknowledged
        and f"escalation-{level.level}" not in fired
    ]
