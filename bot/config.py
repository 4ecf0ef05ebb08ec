"""The config file: service bindings, approvers, channels, escalation contacts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import ConfigError
from bot.redact import register_secret


class Dependency(BaseModel):
    """A dependency of a service (database, cache, broker) and where to find it."""

    model_config = ConfigDict(extra="forbid")

    selector: str | None = None
    pod: str | None = None
    # The dependency's Docker container, for services that run on Docker.
    container: str | None = None
    host: str | None = None
    port: int | None = None
    # redis://, postgresql:// or http(s):// as the dependency speaks; a password in it is secret.
    url: str | None = None
    # The name the service's own pods reach it by (its Service's DNS name), for checks run in a
    # pod; the bot may reach it by another (`host`, `url`). Unset: the host of `host` or `url`.
    cluster_host: str | None = None

    @model_validator(mode="after")
    def _keep_secret(self) -> Dependency:
        if self.url:
            register_secret(urlsplit(self.url).password)
        if not self.cluster_host:
            self.cluster_host = self.host or (urlsplit(self.url).hostname if self.url else None)
        return self


class WorkloadRef(BaseModel):
    """A workload outside the service itself, e.g. the ingress controller."""

    model_config = ConfigDict(extra="forbid")

    namespace: str
    deployment: str


class ServiceBinding(BaseModel):
    """Binds a playbook's generic steps to one real service's names and addresses."""

    model_config = ConfigDict(extra="forbid")

    platform: Literal["kubernetes", "docker"] = "kubernetes"
    display_name: str = ""
    namespace: str = "default"
    deployment: str = ""
    container: str = ""
    selector: str = ""
    service: str = ""
    configmap: str = ""
    secret: str = ""
    # The playbooks this service is run with; `runbook-bot lint` checks that each one's
    # `${service.*}` placeholders are bound. Empty: any playbook, checked when a step runs.
    playbooks: list[str] = Field(default_factory=list)
    health_url: str | None = None
    ready_url: str | None = None
    live_url: str | None = None
    metrics_url: str | None = None
    load_balancer_url: str | None = None
    last_known_good_image: str | None = None
    maintenance_selector: str = "app=maintenance"
    ingress_controller: WorkloadRef = WorkloadRef(
        namespace="ingress-nginx", deployment="nginx-ingress-controller"
    )
    # Docker Compose names of the service, for scaling it; unset: read from the container labels.
    compose_project: str = ""
    compose_service: str = ""
    dependencies: dict[str, Dependency] = Field(default_factory=dict)

    def lookup(self, path: str) -> object | None:
        """The value `${service.a.b}` names (path 'service.a.b'); None when unset or empty."""
        node: object = self
        for part in path.split(".")[1:]:
            node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
            if node is None or node == "":
                return None
        return node

    def with_defaults(self, name: str) -> ServiceBinding:
        """Fill the names a Kubernetes service conventionally derives from its own name."""
        deployment = self.deployment or name
        return self.model_copy(
            update={
                "display_name": self.display_name or name,
                "deployment": deployment,
                "container": self.container or deployment,
                "selector": self.selector or f"app={deployment}",
                "service": self.service or deployment,
                "configmap": self.configmap or f"{deployment}-config",
                "secret": self.secret or f"{deployment}-secrets",
            }
        )


class EscalationContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    notify: list[str] = Field(default_factory=list)
    # Escalating to this level also sends a page (see `paging`).
    page: bool = False


class Channels(BaseModel):
    """Where incidents are announced and status updates go, and how incidents get a room.

    `mode: channel` opens a channel per incident; `thread` keeps each incident in a thread of
    the incidents channel, for workspaces that forbid creating channels.
    """

    model_config = ConfigDict(extra="forbid")

    incidents: str = ""
    status: str = ""
    mode: Literal["channel", "thread"] = "channel"
    prefix: str = Field(default="inc", pattern=r"^[a-z0-9][a-z0-9_-]{0,20}$")


class AlertsConfig(BaseModel):
    """Credentials Alertmanager must present: a bearer token and/or basic-auth user and password."""

    model_config = ConfigDict(extra="forbid")

    bearer_token: str = ""
    username: str = ""
    password: str = ""

    @model_validator(mode="after")
    def _keep_secret(self) -> AlertsConfig:
        register_secret(self.bearer_token)
        register_secret(self.password)
        return self


class StatuspageConfig(BaseModel):
    """A Statuspage-style API the bot keeps a public incident on as status updates are posted."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(pattern=r"^https?://")
    page_id: str = Field(min_length=1)
    token: str = Field(min_length=1)

    @model_validator(mode="after")
    def _keep_secret(self) -> StatuspageConfig:
        self.base_url = self.base_url.rstrip("/")
        register_secret(self.token)
        return self


class PagingConfig(BaseModel):
    """Where pages go, in PagerDuty Events v2 format, for escalation levels with `page: true`."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://")
    routing_key: str = Field(min_length=1)

    @model_validator(mode="after")
    def _keep_secret(self) -> PagingConfig:
        register_secret(self.routing_key)
        return self


class TicketsConfig(BaseModel):
    """Where a post-incident checklist item's "Create ticket" files it: GitHub or Jira."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["github", "jira"]
    # GitHub: "owner/name"; Jira: the project key.
    repo: str = Field(default="", pattern=r"^([\w.-]+/[\w.-]+)?$")
    project: str = Field(default="", pattern=r"^([A-Z][A-Z0-9_]*)?$")
    base_url: str = Field(default="https://api.github.com", pattern=r"^https?://")
    # The token is read from this environment variable, never from the file.
    token_env: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Jira's basic auth pairs the token with this account's email.
    email: str = ""
    issue_type: str = "Task"
    labels: list[str] = Field(default_factory=lambda: ["post-incident"])

    @model_validator(mode="after")
    def _target_named(self) -> TicketsConfig:
        self.base_url = self.base_url.rstrip("/")
        if self.kind == "github" and not self.repo:
            raise ValueError("tickets: kind github needs repo (owner/name)")
        if self.kind == "jira" and not (self.project and self.email):
            raise ValueError("tickets: kind jira needs project and email")
        return self

    def token(self) -> str:
        """The token from the environment, registered as a secret; empty when unset."""
        token = os.environ.get(self.token_env, "")
        register_secret(token)
        return token


class PrometheusConfig(BaseModel):
    """The Prometheus the bot asks about escalation levels' metric conditions."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    # How often each open incident's metric conditions are evaluated.
    interval_seconds: float = Field(default=30.0, ge=0.5, le=3600)
    bearer_token: str = ""

    @model_validator(mode="after")
    def _keep_secret(self) -> PrometheusConfig:
        self.url = self.url.rstrip("/")
        register_secret(self.bearer_token)
        return self


class SeverityPolicy(BaseModel):
    """What a severity brings: who is invited to the room and how often status updates are due."""

    model_config = ConfigDict(extra="forbid")

    # Slack user-group ids (S...) or user ids (U...) invited to the incident's channel.
    invite: list[str] = Field(default_factory=list)
    # Unset: the playbook's status_update_interval.
    status_update_minutes: int | None = Field(default=None, ge=1, le=24 * 60)


class DrillsConfig(BaseModel):
    """Game days (`/incident drill`): whether their escalation nudges really mention anyone."""

    model_config = ConfigDict(extra="forbid")

    # Off: a drill names the escalation contacts as plain text, so nobody is called to a drill.
    mention_contacts: bool = False
    # Each drill runs a sandbox (threads, ports) in the process that started it: a bound, so a
    # stream of /incident drill cannot starve the process that serves real incidents.
    max_running: int = Field(default=3, ge=1, le=20)


class Config(BaseModel):
    """The whole config file. Approvers are Slack user IDs (U...) or user-group IDs (S...)."""

    model_config = ConfigDict(extra="forbid")

    services: dict[str, ServiceBinding] = Field(default_factory=dict)
    approvers: list[str] = Field(default_factory=list)
    # Operating-system login -> the Slack user ID the console acts as; an unmapped login may
    # read and work incidents at the console but never approve.
    console_users: dict[str, str] = Field(default_factory=dict)
    approval_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    channels: Channels = Channels()
    # By level number, or by a level's title ("Security Team"), which wins: playbooks number
    # their levels differently, and a title names the same people in each of them.
    escalation: dict[int | str, EscalationContact] = Field(default_factory=dict)
    alerts: AlertsConfig = AlertsConfig()
    statuspage: StatuspageConfig | None = None
    paging: PagingConfig | None = None
    prometheus: PrometheusConfig | None = None
    tickets: TicketsConfig | None = None
    # Severity 1 (critical) to 4 (low) -> its policy; a severity not listed brings nothing extra.
    severities: dict[int, SeverityPolicy] = Field(default_factory=dict)
    drills: DrillsConfig = DrillsConfig()

    @model_validator(mode="after")
    def _severities_in_range(self) -> Config:
        for level in self.severities:
            if not 1 <= level <= 4:
                raise ValueError(f"severity {level} is not 1 to 4")
        return self

    @model_validator(mode="after")
    def _numbers_are_levels(self) -> Config:
        # YAML and JSON may give `"2":` as a string; it still means level 2.
        self.escalation = {
            int(k) if isinstance(k, str) and k.strip().isdigit() else k: v
            for k, v in self.escalation.items()
        }
        return self

    @model_validator(mode="after")
    def _derive_service_defaults(self) -> Config:
        self.services = {name: b.with_defaults(name) for name, b in self.services.items()}
        return self

    def contact(self, level: int, title: str = "") -> EscalationContact | None:
        """Who an escalation level notifies: by its title, else by its number."""
        wanted = title.strip().casefold()
        for key, contact in self.escalation.items():
            if isinstance(key, str) and wanted and key.strip().casefold() == wanted:
                return contact
        return self.escalation.get(level)

    def binding(self, service: str) -> ServiceBinding:
        try:
            return self.services[service]
        except KeyError:
            known = ", ".join(sorted(self.services)) or "none configured"
            raise ConfigError(f"unknown service '{service}' (known: {known})") from None


def load_config(path: str | Path | None = None) -> Config:
    """Read the config file named by the argument or RUNBOOK_BOT_CONFIG; no file means empty."""
    path = path or os.environ.get("RUNBOOK_BOT_CONFIG")
    if not path:
        return Config()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(raw, str(path))


def parse_config(raw: object, source: str = "config") -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None
