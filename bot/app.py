"""Wires settings, config, playbooks, store and executors into one engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from bot.config import Config, PrometheusConfig
from bot.engine.engine import Engine
from bot.executors.catalog import build_registry
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.settings import Settings
from bot.store.factory import open_bounded_store
from bot.templates import TemplateRenderer


def build_executors(
    kubeconfig: str | None,
    docker_host: str | None = None,
    prometheus: PrometheusConfig | None = None,
) -> ExecutorRegistry:
    """Every backend; each connects on first use, so a missing cluster or engine is no bar."""
    return build_registry(kubeconfig, docker_host, prometheus)


@asynccontextmanager
async def running_engine(settings: Settings, config: Config) -> AsyncIterator[Engine]:
    """An engine over validated playbooks; refuses to start on an invalid one."""
    templates = TemplateRenderer(settings.templates_dir)
    playbooks = load_playbooks(settings.playbooks_dir, templates)
    store = open_bounded_store(settings.redis_url, settings.state_path, settings.store_timeout_s)
    executors = build_executors(settings.kubeconfig, settings.docker_host, config.prometheus)
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
