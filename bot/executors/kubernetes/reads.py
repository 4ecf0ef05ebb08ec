"""Which function answers each Kubernetes read action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.config import ServiceBinding
from bot.executors.base import CheckResult
from bot.executors.kubernetes.autoscaling import read_hpa
from bot.executors.kubernetes.client import KubeClient
from bot.executors.kubernetes.cluster import read_cluster_info
from bot.executors.kubernetes.exec import read_exec
from bot.executors.kubernetes.logs import read_logs
from bot.executors.kubernetes.networking import (
    read_endpoints,
    read_ingresses,
    read_network_policies,
)
from bot.executors.kubernetes.nodes import (
    read_describe_node,
    read_nodes,
    read_top_nodes,
    read_top_pods,
)
from bot.executors.kubernetes.pods import read_describe_pods, read_events, read_pods
from bot.executors.kubernetes.rollouts import read_rollout_history, read_rollout_status
from bot.executors.kubernetes.settings import read_configmap, read_env, read_secret_keys
from bot.executors.kubernetes.volumes import read_volumes

Reader = Callable[[KubeClient, Any, ServiceBinding], Awaitable[CheckResult]]

READERS: dict[str, Reader] = {
    "k8s.pods": read_pods,
    "k8s.describe_pods": read_describe_pods,
    "k8s.events": read_events,
    "k8s.logs": read_logs,
    "k8s.rollout_history": read_rollout_history,
    "k8s.rollout_status": read_rollout_status,
    "k8s.nodes": read_nodes,
    "k8s.describe_node": read_describe_node,
    "k8s.top_nodes": read_top_nodes,
    "k8s.top_pods": read_top_pods,
    "k8s.endpoints": read_endpoints,
    "k8s.ingresses": read_ingresses,
    "k8s.configmap": read_configmap,
    "k8s.secret_keys": read_secret_keys,
    "k8s.env": read_env,
    "k8s.network_policies": read_network_policies,
    "k8s.volumes": read_volumes,
    "k8s.hpa": read_hpa,
    "k8s.cluster_info": read_cluster_info,
    "k8s.exec": read_exec,
}
