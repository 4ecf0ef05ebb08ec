"""The shipped api-down-compose (seed 001) and api-down-docker-k8s (seed 002) playbooks.

Structure that the coverage table cannot see: safety marks, platforms, the seeds' escalation
and watch, and that every fix previews on a real engine without changing anything.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import Config, Dependency, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.binding import resolve_action
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.executors import docker as docker_executor
from bot.executors.docker.containers import MIB, NUMBER_LABEL, PROJECT_LABEL, SERVICE_LABEL
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import lint_file
from bot.playbooks.models import FixStep, ManualStep, Playbook, Step, VerificationStep
from bot.store import SqliteStore
from bot.templates import TemplateRenderer
from tests.engine.conftest import Kube
from tests.playbooks.test_seed_coverage import checklist, commands
from tests.support.docker_engine import DockerEngine, docker_engine_fixture  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).parent / "seeds"
TABLES = Path(__file__).parent / "seed_coverage"
ONCALL = Actor(id="U-ONCALL", name="oncall")

# Fixes that need an approver other than the requester, and only these.
DESTRUCTIVE = {"docker.stop", "redis.flushdb", "k8s.delete_pod"}
# Commands the bot never runs: they must stay manual items showing the command.
HOST_COMMANDS = (
    "free ", "df ", "du ", "top ", "systemctl ", "find ", "sudo ", "nano ", "git ", "cat ",
    "export ", "docker system prune", "docker-compose down", "docker-compose build",
    "docker-compose stop", "docker-compose up -d api",
)  # fmt: skip


def _seed(number: str) -> str:
    return next(SEEDS.glob(f"{number}_*.txt")).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def templates() -> TemplateRenderer:
    return TemplateRenderer(REPO / "templates")


def _load(name: str, templates: TemplateRenderer) -> Playbook:
    # Only this file: another playbook mid-edit must not fail these tests.
    loaded, problems = lint_file(REPO / "playbooks" / f"{name}.yml", templates)
    assert loaded is not None, [str(p) for p in problems]
    return loaded


@pytest.fixture(scope="module")
def compose(templates: TemplateRenderer) -> Playbook:
    return _load("api-down-compose", templates)


@pytest.fixture(scope="module")
def both(templates: TemplateRenderer) -> Playbook:
    return _load("api-down-docker-k8s", templates)


def fixes(playbook: Playbook) -> list[FixStep]:
    return [step for _, step in playbook.steps() if isinstance(step, FixStep)]


def action_types(step: Step) -> list[str]:
    actions = [getattr(step, field, None) for field in ("action", "verify", "check")]
    return [a.type for a in actions if a is not None]


# --- safety ------------------------------------------------------------------------------


def test_destructive_fixes_need_a_second_approver_and_no_other_fix_does(
    compose: Playbook, both: Playbook
) -> None:
    for playbook in (compose, both):
        for fix in fixes(playbook):
            assert fix.destructive == (fix.action.type in DESTRUCTIVE), (playbook.id, fix.id)
    assert [f.id for f in fixes(both) if f.destructive] == ["redis-flushdb"]
    assert not [f.id for f in fixes(compose) if f.destructive]


def test_host_commands_are_manual_items_never_fixes(compose: Playbook, both: Playbook) -> None:
    for playbook in (compose, both):
        for _, step in playbook.steps():
            if step.command and step.command.startswith(HOST_COMMANDS):
                assert isinstance(step, ManualStep), (playbook.id, step.id, step.command)
    prune = both.find_step("docker-prune")
    assert prune is not None and isinstance(prune[1], ManualStep)


def test_the_training_stage_only_lists_manual_items(compose: Playbook) -> None:
    training = compose.stages[-1]
    assert training.id == "training"
    assert [s.command for s in training.steps if s.command] == [
        "docker-compose stop api",
        "docker-compose start api",
    ]
    assert all(isinstance(s, ManualStep) for s in training.all_steps())
    assert "runbook-bot drill api-down-compose" in (training.steps[0].note or "")


# --- platforms ---------------------------------------------------------------------------


def test_compose_playbook_uses_only_docker_and_dependency_actions(compose: Playbook) -> None:
    assert compose.platform == "docker"
    used = {t for _, step in compose.steps() for t in action_types(step)}
    assert not {t for t in used if t.startswith("k8s.")}
    assert {"docker.container", "docker.logs", "docker.stats", "docker.inspect"} <= used


def test_platform_steps_carry_their_platform(both: Playbook) -> None:
    assert both.platform == "any"
    for _, step in both.steps():
        types, command = action_types(step), step.command or ""
        if any(t.startswith("docker.") for t in types) or command.startswith("docker"):
            assert step.platform == "docker", step.id
        elif any(t.startswith("k8s.") for t in types) or command.startswith("kubectl"):
            assert step.platform == "kubernetes", step.id
        else:
            assert step.platform is None or isinstance(step, ManualStep), step.id


def _seed_platforms(text: str) -> list[tuple[str, str]]:
    """(command, platform) for commands the seed puts under a `# Docker` / `# Kubernetes`."""
    found: list[tuple[str, str]] = []
    platform: str | None = None
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        platform = None
        for raw in block.splitlines():
            line = raw.strip()
            if line.startswith("#"):
                name = line.lstrip("# ")
                platform = {"Docker": "docker", "Docker Compose": "docker"}.get(name)
                platform = platform or ("kubernetes" if name == "Kubernetes" else None)
            elif line and platform:
                found.append((line, platform))
    return found


def test_the_seeds_docker_and_kubernetes_commands_land_on_steps_of_that_platform(
    both: Playbook,
) -> None:
    rows = yaml.safe_load((TABLES / "002.yml").read_text(encoding="utf-8"))["rows"]
    paired = _seed_platforms(_seed("002"))
    assert len(paired) == 9
    for command, platform in paired:
        steps = [row["step"] for row in rows if row["line"] == command]
        assert steps, command
        for step_id in steps:
            found = both.find_step(step_id)
            assert found is not None and found[1].platform == platform, (command, step_id)


@pytest.mark.parametrize("platform", ["docker", "kubernetes"])
def test_each_platform_sees_a_whole_playbook_of_its_own(both: Playbook, platform: str) -> None:
    view = both.for_platform(platform)
    other = "k8s." if platform == "docker" else "docker."
    assert not [s.id for _, s in view.steps() if any(t.startswith(other) for t in action_types(s))]
    for stage in view.stages:
        assert stage.all_steps(), f"{platform}: stage {stage.id} is empty"
    restart = "docker-restart" if platform == "docker" else "k8s-restart"
    for cause in view.root_causes():
        if cause.see_also:
            assert any(view.find_step(s) for s in cause.see_also), cause.id
    assert view.find_step(restart) is not None


# --- the seeds' escalation, causes and watch -----------------------------------------------


def test_escalation_is_the_seeds(compose: Playbook, both: Playbook) -> None:
    seed = _seed("001")
    assert [(e.level, e.after) for e in compose.escalation] == [
        (2, timedelta(minutes=15)),
        (3, timedelta(minutes=30)),
    ]
    assert compose.escalation[0].title.startswith("Senior Engineer")
    assert compose.escalation[1].title == "Engineering Lead"
    assert compose.escalation[0].criteria == checklist(seed, ["Escalate if:"])

    assert [(e.level, e.after) for e in both.escalation] == [(2, timedelta(minutes=15))]
    actions = [item.strip("*") for item in checklist(_seed("002"), ["Escalation"])]
    assert both.escalation[0].criteria == actions


def test_compose_causes_are_the_seeds_five_each_with_a_fix_or_manual_remedy(
    compose: Playbook,
) -> None:
    headings = re.findall(r"^### (Cause \d: .+)$", _seed("001"), flags=re.M)
    causes = compose.root_causes()
    assert [c.title.lower() for c in causes] == [h.lower() for h in headings]
    for cause in causes:
        assert any(s.finding for s in cause.symptoms), cause.id
        assert any(isinstance(s, FixStep | ManualStep) for s in cause.steps), cause.id


def test_health_is_verified_with_its_body_and_watched_for_15_minutes(compose: Playbook) -> None:
    checks = [s for _, s in compose.steps() if isinstance(s, VerificationStep)]
    watches = [s for s in checks if s.hold is not None]
    assert [(s.id, s.hold) for s in watches] == [("watch-health", timedelta(minutes=15))]
    for step in checks:
        assert step.check.type == "http.get", step.id
        assert step.check.model_dump()["healthy_body"] is True, step.id
        assert step.check.model_dump()["url"] == "${service.health_url}", step.id
    # The runbook's `sleep 30` before the health check is the crash fix's verification.
    assert "sleep 30" in commands(_seed("001"))
    crash_check = compose.find_step("crash-verify-health")
    assert crash_check is not None and "sleep 30" in (crash_check[1].note or "")


# --- messages render -------------------------------------------------------------------


def _binding(platform: str) -> ServiceBinding:
    return ServiceBinding(
        platform=platform,
        display_name="Prompt API",
        container="api-server",
        health_url="http://127.0.0.1:9/v1/health",
        dependencies={
            "postgres": Dependency(container="postgres", url="postgresql://u@127.0.0.1:9/db"),
            "redis": Dependency(container="redis", url="redis://127.0.0.1:9/0"),
        },
    )


@pytest.mark.parametrize(
    ("playbook_id", "platform"),
    [
        ("api-down-compose", "docker"),
        ("api-down-docker-k8s", "docker"),
        ("api-down-docker-k8s", "kubernetes"),
    ],
)
async def test_every_message_and_the_document_render(
    templates: TemplateRenderer, tmp_path: Path, playbook_id: str, platform: str
) -> None:
    playbook = _load(playbook_id, templates)
    config = Config(services={"prompt-api": _binding(platform)}, approvers=[ONCALL.id])
    store = SqliteStore(tmp_path / "incidents.db")
    engine = Engine({playbook.id: playbook}, config, store, ExecutorRegistry([]), templates)
    try:
        incident = await engine.open(playbook.id, "prompt-api", ONCALL, "health check fails")
        for name in playbook.communications:
            text = await engine.render_status(incident.id, name, eta="30m")
            assert "Prompt API" in text and incident.id in text, name
        document = await engine.post_incident_document(incident.id)
    finally:
        await store.close()
    assert "{{" not in document
    for tasks in playbook.post_incident:
        # A checklist tied to a root cause comes only once that cause matched; none has here.
        assert (tasks.items[0] in document) == (tasks.cause is None), tasks.id
    if playbook_id == "api-down-compose":
        assert "**Impact:** 100% service outage" in document
        assert "MTTR target: 5 minutes" in document
        ack = await _render_ack(templates, playbook, config, tmp_path)
        assert "Acknowledged - investigating API Down alert" in ack


async def _render_ack(
    templates: TemplateRenderer, playbook: Playbook, config: Config, tmp_path: Path
) -> str:
    store = SqliteStore(tmp_path / "ack.db")
    engine = Engine({playbook.id: playbook}, config, store, ExecutorRegistry([]), templates)
    try:
        incident = await engine.open(playbook.id, "prompt-api", ONCALL)
        return await engine.render_status(incident.id, "acknowledged")
    finally:
        await store.close()


# --- fixes preview on real engines and change nothing -------------------------------------


@pytest.fixture
def api_containers(docker_engine: DockerEngine) -> Iterator[tuple[str, str]]:
    """An API container that exited (a crash), and a running one that is a compose service.

    A stopped database container is there too, for the fix that starts it.
    """
    crashed = docker_engine.name("api-server")
    docker_engine.run("api-server", ["sh", "-c", "exit 3"], mem_limit="64m")
    docker_engine.wait_until(crashed, lambda a: a["State"]["Status"] == "exited")
    database = docker_engine.name("postgres")
    docker_engine.run("postgres", ["sh", "-c", "exit 1"])
    docker_engine.wait_until(database, lambda a: a["State"]["Status"] == "exited")
    project = f"rbt{docker_engine.run_id}"
    labels = {PROJECT_LABEL: project, SERVICE_LABEL: "api", NUMBER_LABEL: "1"}
    running = docker_engine.name("conduit-api")
    docker_engine.run("conduit-api", ["sleep", "600"], labels=labels)
    docker_engine.wait_until(running, lambda a: a["State"]["Running"])
    yield crashed, running
    docker_engine.remove_all()


@pytest.fixture
async def docker_exec(docker_engine: DockerEngine) -> AsyncIterator[docker_executor.DockerExecutor]:
    executor = docker_executor.DockerExecutor(docker_engine.url)
    yield executor
    await executor.close()


def _state(docker_engine: DockerEngine, name: str) -> tuple[object, ...]:
    attrs = docker_engine.attrs(name)
    state = attrs["State"]
    return state["Status"], state["StartedAt"], attrs["HostConfig"]["Memory"], attrs["RestartCount"]


@pytest.mark.slow
async def test_every_docker_fix_previews_on_a_real_engine_and_changes_nothing(
    compose: Playbook,
    both: Playbook,
    docker_engine: DockerEngine,
    api_containers: tuple[str, str],
    docker_exec: docker_executor.DockerExecutor,
) -> None:
    crashed, running = api_containers
    database = docker_engine.name("postgres")
    watched = (*api_containers, database)
    before = {name: _state(docker_engine, name) for name in watched}
    previews: dict[str, str] = {}
    plans = [(compose, crashed), (both.for_platform("docker"), running)]
    for playbook, container in plans:
        binding = _binding("docker").model_copy(update={"container": container})
        binding.dependencies["postgres"].container = database
        for fix in fixes(playbook):
            if not fix.action.type.startswith("docker."):
                continue
            action = resolve_action(fix.action, binding, "prompt-api")
            preview = await docker_exec.preview(action, binding)
            assert preview.error is None, (playbook.id, fix.id, preview.error)
            previews[f"{playbook.id}/{fix.id}"] = preview.summary
    assert {name: _state(docker_engine, name) for name in watched} == before
    assert before[crashed][2] == 64 * MIB
    assert "4096 MiB" in previews["api-down-compose/oom-raise-limit"]
    assert previews["api-down-compose/port-start"].startswith(f"start container {crashed}")
    assert previews["api-down-compose/db-start"].startswith(f"start container {database}")
    assert len(docker_engine.labelled(**{PROJECT_LABEL: f"rbt{docker_engine.run_id}"})) == 1
    # Option 2 of the port conflict: a new port mapping is a re-create, not a start.
    assert previews["api-down-compose/port-change"].startswith(
        f"recreate container {crashed} (exited) with ports 8000/tcp -> 0.0.0.0:8080"
    )
    assert len(previews) == 10


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox.start("oom-bad-deploy", ready_delay=0.0)
    yield sb
    sb.stop()


@pytest.mark.slow
async def test_every_kubernetes_fix_previews_with_a_dry_run_and_changes_nothing(
    both: Playbook, sandbox: Sandbox, tmp_path: Path
) -> None:
    kubeconfig = str(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
    binding = ServiceBinding.model_validate(sandbox.binding()).with_defaults(sandbox.service_name)
    kube = Kube(kubeconfig)
    executor = KubernetesExecutor(kubeconfig)
    before = kube.deployment(binding.deployment)["spec"]
    try:
        previewed = []
        for fix in fixes(both.for_platform("kubernetes")):
            if not fix.action.type.startswith("k8s."):
                continue
            action = resolve_action(fix.action, binding, sandbox.service_name)
            preview = await executor.preview(action, binding)
            assert preview.error is None, (fix.id, preview.error)
            previewed.append(fix.id)
        after = kube.deployment(binding.deployment)["spec"]
    finally:
        kube.close()
        await executor.close()
    assert previewed == ["k8s-restart", "k8s-scale", "k8s-debug-logging"]
    assert after == before
