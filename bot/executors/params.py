"""Validated parameter types shared by executors' params models.

A playbook writes names either literally or as `${service.field}` placeholders that the
engine fills from the service binding; after filling, the engine validates the params again,
so a value that reaches an executor is always a plain, checked name.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator

PLACEHOLDER = re.compile(r"\$\{([a-z_]+(?:\.[a-zA-Z0-9_-]+)*)\}")

_DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_SELECTOR = re.compile(
    r"^[A-Za-z0-9][-A-Za-z0-9_./]{0,252}\s*(==?|!=)\s*[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
    r"(\s*,\s*[A-Za-z0-9][-A-Za-z0-9_./]{0,252}\s*(==?|!=)\s*[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)*$"
)
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")


def has_placeholder(value: str) -> bool:
    return "${" in value


def _checked(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if has_placeholder(value) or pattern.fullmatch(value):
            return value
        raise ValueError(f"not a valid {what}: {value!r}")

    return AfterValidator(check)


K8sName = Annotated[str, _checked(_DNS_1123, "Kubernetes name")]
LabelSelector = Annotated[str, _checked(_LABEL_SELECTOR, "label selector (key=value,...)")]
ImageRef = Annotated[str, _checked(_IMAGE, "image reference")]
Quantity = Annotated[str, _checked(_QUANTITY, "resource quantity (e.g. 500m, 1Gi)")]

_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(value))
    return True


def _check_host(value: str) -> str:
    if has_placeholder(value) or _is_host(value):
        return value
    raise ValueError(f"not a valid host name or IP address: {value!r}")


def _url_of(schemes: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if has_placeholder(value):
            return value
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError(f"not a valid URL (whitespace or control characters): {value!r}")
        try:
            parts = urlsplit(value)
            host = parts.hostname or ""
            parts.port  # noqa: B018  -- raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError(f"not a valid URL: {value!r}") from None
        if parts.scheme not in schemes:
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise ValueError(f"URL must start with {allowed}: {value!r}")
        if not _is_host(host):
            raise ValueError(f"URL has no valid host: {value!r}")
        return value

    return AfterValidator(check)


Host = Annotated[str, AfterValidator(_check_host)]
HttpUrl = Annotated[str, _url_of(("http", "https"))]
RedisUrl = Annotated[str, _url_of(("redis", "rediss"))]
PostgresUrl = Annotated[str, _url_of(("postgres", "postgresql"))]

_CONTAINER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")
_COMPOSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# A Docker container's name or ID, as `docker ps` shows it.
ContainerName = Annotated[str, _checked(_CONTAINER, "container name")]
EnvName = Annotated[str, _checked(_ENV_NAME, "environment variable name")]
ComposeName = Annotated[str, _checked(_COMPOSE_NAME, "compose project or service name")]


def _check_argument(value: str) -> str:
    if not value or len(value) > 1024 or any(not c.isprintable() for c in value):
        raise ValueError("an argument must be 1-1024 printable characters")
    return value


# One element of a command's argument vector, written in the playbook and passed as is (no
# shell ever sees it); placeholders are filled from the service binding, never from user text.
Argument = Annotated[str, AfterValidator(_check_argument)]


def _check_pattern(value: str) -> str:
    if len(value) > 200:
        raise ValueError("a pattern must be at most 200 characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


# A regular expression written in the playbook, e.g. the `grep ERROR` of `kubectl logs | grep`.
Pattern = Annotated[str, AfterValidator(_check_pattern)]


def url_for_display(url: str) -> str:
    """The URL without its user and password, as it may be shown or logged."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _check_port(value: int | str) -> int | str:
    if isinstance(value, str):
        if PLACEHOLDER.fullmatch(value):
            return value
        raise ValueError(f"not a port number: {value!r}")
    if not 1 <= value <= 65535:
        raise ValueError(f"port must be 1..65535, got {value}")
    return value


# A port, or a lone placeholder that the engine replaces with the binding's port number.
Port = Annotated[int | str, AfterValidator(_check_port)]
