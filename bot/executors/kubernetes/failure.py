"""Turns what the Kubernetes client raises into one-line reasons a responder can act on."""

from __future__ import annotations

import json
import re

import urllib3
from kubernetes.client.exceptions import ApiException

from bot.errors import BotError
from bot.redact import redact

_FORBIDDEN_GIST = re.compile(
    r'cannot (?P<verb>\w+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "[^"]*")?(?: in the namespace "(?P<namespace>[^"]+)")?'
)

# The API server proxies logs and exec to the pod's kubelet: "dial tcp 10.0.0.1:10250: connect:
# connection refused" when nothing answers there (a dead node, or a node object with no kubelet).
_KUBELET_DIAL = re.compile(r"dial tcp \S+: (?:connect: )?(?P<why>[a-z/ ]+)")


class KubeError(BotError):
    """An API call that failed; str() is the one-line reason, `status` the HTTP status if any."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(redact(" ".join(reason.split())))
        self.status = status


def _status_message(exc: ApiException) -> str:
    """The `message` of the Status object the API server returned, else its reason phrase."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(exc.reason or "")


def _api_failure(exc: ApiException, verb: str, what: str) -> KubeError:
    status = int(exc.status or 0)
    message = _status_message(exc)
    if status == 401:
        reason = "unauthorized: the cluster rejected the bot's credentials"
    elif status == 403:
        gist = _FORBIDDEN_GIST.search(message)
        if gist:
            where = f" in namespace {gist['namespace']}" if gist["namespace"] else ""
            reason = f"forbidden: cannot {gist['verb']} {gist['resource']}{where} (403)"
        else:
            reason = f"forbidden: cannot {verb} {what} (403)"
    elif status == 404:
        reason = f"not found: {what}"
    elif status == 0:
        reason = f"cannot {verb} {what}: {message.splitlines()[0] if message else 'client error'}"
    else:
        reason = f"cannot {verb} {what} ({status}): {message or exc.reason}"
    return KubeError(reason, status or None)


def kubelet_unreachable(reason: str, node: str) -> str | None:
    """'the kubelet on node N does not answer (why)' if the API server could not reach it."""
    dial = _KUBELET_DIAL.search(reason)
    if dial is None:
        return None
    return f"the kubelet on node {node or '<none>'} does not answer ({dial['why'].strip()})"


def _connection_failure(exc: BaseException, server: str, timeout: float) -> KubeError:
    cause: BaseException = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        cause = exc.reason
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return KubeError(f"cluster unreachable at {server}: name does not resolve")
    # urllib3 2 makes NewConnectionError a ConnectTimeoutError: test for it first.
    is_connect = isinstance(cause, urllib3.exceptions.NewConnectionError)
    if not is_connect and isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError):
        return KubeError(f"timed out after {timeout:g}s")
    text = str(cause).lower()
    if "refused" in text:
        detail = "connection refused"
    elif "reset" in text or "aborted" in text or "disconnected" in text:
        detail = "connection dropped"
    elif "name or service not known" in text or "nodename nor servname" in text:
        detail = "name does not resolve"
    else:
        detail = type(cause).__name__
    return KubeError(f"cluster unreachable at {server}: {detail}")


def to_kube_error(
    exc: BaseException, *, verb: str, what: str, server: str, timeout: float
) -> KubeError:
    """Map any exception of one call to a KubeError with a one-line, redacted reason."""
    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException):
        return _api_failure(exc, verb, what)
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return _connection_failure(exc, server, timeout)
    return KubeError(f"cannot {verb} {what}: {type(exc).__name__}")
