"""Wires settings, config, playbooks, store and executors into one engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from bot.config import Config
from bot.engine.engine import Engine
from bot.executors import docker as docker_executor
from bot.executors import http, network, postgres
from bot.executors import kubernetes as kubernetes_executor
from bot.executors import redis as redis_checks
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.settings import Settings
from bot.store.factory import open_store
from bot.templates import TemplateRenderer


def build_executors(kubeconfig: str | None, docker_host: str | None = None) -> ExecutorRegistry:
    """Every backend; each connects on first use, so a missing cluster or engine is no bar."""
    return ExecutorRegistry(
        [
            (
                kubernetes_executor.READS + kubernetes_executor.WRITES,
                kubernetes_executor.KubernetesExecutor(kubeconfig),
            ),
            (
                docker_executor.READS + docker_executor.WRITES,
                docker_executor.DockerExecutor(docker_host),
            ),
            (http.READS, http.HttpExecutor()),
            (network.READS, network.NetworkExecutor()),
            (redis_checks.READS + redis_checks.WRITES, redis_checks.RedisExecutor()),
            (postgres.READS + postgres.WRITES, postgres.PostgresExecutor()),
        ]
    )


@asynccontextmanager
async def running_engine(settings: Settings, config: Config) -> AsyncIterator[Engine]:
    """An engine over validated playbooks; refuses to start on an invalid one."""
    templates = TemplateRenderer(settings.templates_dir)
    playbooks = load_playbooks(settings.playbooks_dir, templates)
    store = open_store(settings.redis_url, settings.state_path)
    executors = build_executors(settings.kubeconfig, settings.docker_host)
    try:
        await store.ping()
        yield Engine(
            playbooks,
            config,
            store,
            executors,
            templates,
            approval_ttl=timedelta(minutes=config.approval_ttl_minutes),
        )
    finally:
        await executors.close()
        await store.close()
