"""The Kubernetes API client: lazy config loading, calls in threads with timeouts, JSON dicts."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from bot.executors.kubernetes.failure import KubeError, to_kube_error
from bot.redact import redact, register_secret

ApiName = Literal["core", "apps", "networking", "discovery", "custom", "autoscaling", "version"]
Obj = dict[str, Any]
T = TypeVar("T")

# A stage runs ~10 checks at once; the default asyncio pool has only cpu+4 threads.
WORKERS = 32
# Enough to survive a dropped keep-alive connection, few enough to fail fast when down.
RETRIES = urllib3.Retry(total=1, connect=1, read=0, status=0, redirect=0, backoff_factor=0)
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"

_VERBS = {"list": "list", "read": "get", "patch": "patch", "delete": "delete", "create": "create"}


def _load_configuration(kubeconfig: str | None, context: str | None) -> k8s.Configuration:
    """Kubeconfig argument, else KUBECONFIG or ~/.kube/config, else the in-cluster account."""
    cfg = k8s.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    default = Path("~/.kube/config").expanduser()
    try:
        if path or default.exists():
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path or str(default),
                context=context,
                client_configuration=cfg,
                persist_config=False,
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=cfg
            )
        else:
            raise KubeError(
                "no Kubernetes credentials; no kubeconfig (KUBECONFIG or ~/.kube/config) "
                "and not running in a cluster"
            )
    except KubeError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # "credentials: X" would read as a key/value pair to the redactor, which masks X.
        raise KubeError(f"no Kubernetes credentials; {first}") from None
    cfg.retries = RETRIES
    cfg.connection_pool_maxsize = WORKERS
    return cfg


def _register_token(cfg: k8s.Configuration) -> None:
    for value in (cfg.api_key or {}).values():
        if isinstance(value, str):
            register_secret(value.removeprefix("Bearer ").strip())
            register_secret(value)


class KubeClient:
    """One cluster connection. Every call returns parsed JSON or raises KubeError."""

    def __init__(self, kubeconfig: str | None, context: str | None, timeout: float) -> None:
        self.timeout = timeout
        self._kubeconfig = kubeconfig
        self._context = context
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="k8s")
        self._lock = threading.Lock()
        self._apis: dict[str, Any] | None = None
        self._api_client: Any = None
        self.server = ""

    def _connect(self) -> dict[str, Any]:
        with self._lock:
            if self._apis is None:
                cfg = _load_configuration(self._kubeconfig, self._context)
                _register_token(cfg)
                self.server = redact(str(cfg.host))
                self._api_client = k8s.ApiClient(cfg)
                self._apis = {
                    "core": k8s.CoreV1Api(self._api_client),
                    "apps": k8s.AppsV1Api(self._api_client),
                    "networking": k8s.NetworkingV1Api(self._api_client),
                    "discovery": k8s.DiscoveryV1Api(self._api_client),
                    "custom": k8s.CustomObjectsApi(self._api_client),
                    "autoscaling": k8s.AutoscalingV2Api(self._api_client),
                    "version": k8s.VersionApi(self._api_client),
                }
            return self._apis

    def _call(self, api: ApiName, method: str, args: tuple[Any, ...], kwargs: Obj) -> bytes:
        apis = self._connect()
        # An in-cluster token is re-read when it rotates; keep the current one masked.
        _register_token(self._api_client.configuration)
        response = getattr(apis[api], method)(
            *args, _preload_content=False, _request_timeout=self.timeout, **kwargs
        )
        try:
            return bytes(response.data)
        finally:
            response.release_conn()

    async def raw(self, api: ApiName, method: str, *args: Any, what: str, **kwargs: Any) -> bytes:
        """Run one client method in the pool; `what` names the object for error messages."""
        loop = asyncio.get_running_loop()
        verb = _VERBS.get(method.split("_", 1)[0], method.split("_", 1)[0])
        future = loop.run_in_executor(self._pool, self._call, api, method, args, kwargs)
        try:
            # The socket timeout bounds each attempt; this bounds the whole call.
            return await asyncio.wait_for(future, self.timeout * 2 + 1)
        except TimeoutError:
            raise KubeError(f"timed out after {self.timeout:g}s") from None
        except Exception as exc:
            raise to_kube_error(
                exc, verb=verb, what=what, server=self.server, timeout=self.timeout
            ) from None

    def _run(self, fn: Callable[[dict[str, Any]], T]) -> T:
        apis = self._connect()
        _register_token(self._api_client.configuration)
        return fn(apis)

    async def blocking(
        self, fn: Callable[[dict[str, Any]], T], *, verb: str, what: str, limit: float
    ) -> T:
        """Run fn(apis) in the pool for at most `limit` seconds: a stream, such as an exec."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._run, fn)
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise KubeError(f"timed out after {limit:g}s") from None
        except Exception as exc:
            raise to_kube_error(
                exc, verb=verb, what=what, server=self.server, timeout=self.timeout
            ) from None

    async def obj(self, api: ApiName, method: str, *args: Any, what: str, **kwargs: Any) -> Obj:
        """Like raw(), parsed as one JSON object."""
        data = await self.raw(api, method, *args, what=what, **kwargs)
        try:
            parsed = json.loads(data)
        except ValueError:
            raise KubeError(f"cannot read {what}: the API server's answer is not JSON") from None
        if not isinstance(parsed, dict):
            raise KubeError(f"cannot read {what}: the API server's answer is not an object")
        return parsed

    async def items(
        self, api: ApiName, method: str, *args: Any, what: str, **kwargs: Any
    ) -> list[Obj]:
        """The `items` of a list call."""
        listed = await self.obj(api, method, *args, what=what, **kwargs)
        return [item for item in listed.get("items") or [] if isinstance(item, dict)]

    async def text(self, api: ApiName, method: str, *args: Any, what: str, **kwargs: Any) -> str:
        """Like raw(), decoded as text (logs)."""
        data = await self.raw(api, method, *args, what=what, **kwargs)
        return data.decode("utf-8", errors="replace")

    async def close(self) -> None:
        """Stop the worker threads and drop pooled connections."""
        await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)
        if self._api_client is not None:
            self._api_client.close()
