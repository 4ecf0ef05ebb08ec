"""Fixes: each is planned from the live object, then sent as a server-side dry run or for real."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, WriteAction
from bot.executors.common import dig
from bot.executors.kubernetes.autoscaling import bounds, read_hpa_object, with_cpu_target
from bot.executors.kubernetes.changes import Change, change_between
from bot.executors.kubernetes.client import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE,
    KubeClient,
    Obj,
)
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.params import (
    K8sDeletePod,
    K8sPatchHpa,
    K8sPatchResources,
    K8sPatchServiceSelector,
    K8sRolloutRestart,
    K8sRolloutUndo,
    K8sScale,
    K8sSetEnv,
    K8sSetImage,
)
from bot.executors.kubernetes.resources import raised
from bot.executors.kubernetes.rollouts import REVISION, read_deployment, revisions
from bot.executors.tabled import Fix
from bot.redact import is_sensitive_name, redact, register_secret

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class Plan:
    """One fix against one live object; `send(dry_run)` returns the object as changed."""

    title: str
    live: Obj
    send: Callable[[str | None], Awaitable[Obj]]
    scope: tuple[str, ...] = ("spec",)
    # A fix whose result is not a changed object (a deletion) states its outcome instead.
    outcome: tuple[str, str] | None = None
    # The fields to compare, when the object's own paths would read badly (HPA metrics).
    view: Callable[[Obj], dict[str, str]] | None = None

    def change(self, result: Obj) -> Change:
        if self.outcome:
            return Change({"": self.outcome[0]}, {"": self.outcome[1]})
        if self.view:
            return Change(self.view(self.live), self.view(result))
        return change_between(self.live, result, *self.scope)


async def _patch_deployment(kube: KubeClient, ns: str, name: str, body: Any, kind: str) -> Plan:
    live = await read_deployment(kube, ns, name)

    async def send(dry_run: str | None) -> Obj:
        return await kube.obj(
            "apps",
            "patch_namespaced_deployment",
            name,
            ns,
            body,
            dry_run=dry_run,
            _content_type=kind,
            what=f"deployment {name} in namespace {ns}",
        )

    return Plan(f"deployment/{name}", live, send)


def _container_names(deployment: Obj) -> list[str]:
    return [
        str(c.get("name")) for c in dig(deployment, "spec", "template", "spec", "containers") or []
    ]


async def _patch_container(
    kube: KubeClient, ns: str, name: str, container: str, fields: Obj
) -> Plan:
    body = {"spec": {"template": {"spec": {"containers": [{"name": container, **fields}]}}}}
    plan = await _patch_deployment(kube, ns, name, body, STRATEGIC_MERGE)
    if container not in _container_names(plan.live):
        names = ", ".join(_container_names(plan.live)) or "none"
        raise KubeError(f"no container {container} in deployment/{name} (containers: {names})")
    return plan


async def _restart(kube: KubeClient, a: K8sRolloutRestart, t: ServiceBinding) -> Plan:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    ns, name = a.namespace or t.namespace, a.deployment or t.deployment
    return await _patch_deployment(kube, ns, name, body, STRATEGIC_MERGE)


async def _scale(kube: KubeClient, a: K8sScale, t: ServiceBinding) -> Plan:
    ns, name = a.namespace or t.namespace, a.deployment or t.deployment
    what = f"deployment {name} in namespace {ns}"
    live = await kube.obj("apps", "read_namespaced_deployment_scale", name, ns, what=what)

    async def send(dry_run: str | None) -> Obj:
        return await kube.obj(
            "apps",
            "patch_namespaced_deployment_scale",
            name,
            ns,
            {"spec": {"replicas": a.replicas}},
            dry_run=dry_run,
            _content_type=STRATEGIC_MERGE,
            what=what,
        )

    return Plan(f"deployment/{name}", live, send)


async def _set_image(kube: KubeClient, a: K8sSetImage, t: ServiceBinding) -> Plan:
    ns, name = a.namespace or t.namespace, a.deployment or t.deployment
    return await _patch_container(kube, ns, name, a.container or t.container, {"image": a.image})


async def _patch_resources(kube: KubeClient, a: K8sPatchResources, t: ServiceBinding) -> Plan:
    ns, name = a.namespace or t.namespace, a.deployment or t.deployment
    container = a.container or t.container
    resources = {
        key: amounts.model_dump(exclude_none=True)
        for key, amounts in (("requests", a.requests), ("limits", a.limits))
        if amounts.model_dump(exclude_none=True)
    }
    if a.only_raise:
        live = await read_deployment(kube, ns, name)
        current = next(
            (
                c.get("resources") or {}
                for c in dig(live, "spec", "template", "spec", "containers") or []
                if c.get("name") == container
            ),
            {},
        )
        resources = raised(current, resources, a.factor_percent)
    return await _patch_container(kube, ns, name, container, {"resources": resources})


async def _set_env(kube: KubeClient, a: K8sSetEnv, t: ServiceBinding) -> Plan:
    """Like `kubectl set env`: update the named variables, add those the container lacks."""
    ns, name = a.namespace or t.namespace, a.deployment or t.deployment
    container = a.container or t.container
    live = await read_deployment(kube, ns, name)
    containers: list[Obj] = dig(live, "spec", "template", "spec", "containers") or []
    env = next((c.get("env") or [] for c in containers if c.get("name") == container), [])
    sourced = {str(v.get("name")) for v in env if v.get("valueFrom")}
    entries: list[Obj] = []
    for key, value in a.env.items():
        if is_sensitive_name(key):
            register_secret(value)
        # A literal value replaces a secret or config map reference; both at once is invalid.
        entries.append(
            {"name": key, "value": value, **({"valueFrom": None} if key in sourced else {})}
        )
    # As kubectl: variables keep their places and new ones go last, since a later variable may
    # refer to an earlier one as $(NAME); a bare strategic merge would put new ones first.
    order = [str(v.get("name")) for v in env]
    order += [key for key in a.env if key not in order]
    fields = {"env": entries, "$setElementOrder/env": [{"name": n} for n in order]}
    return await _patch_container(kube, ns, name, container, fields)


async def _patch_hpa(kube: KubeClient, a: K8sPatchHpa, t: ServiceBinding) -> Plan:
    ns, name = a.namespace or t.namespace, a.name or t.deployment
    live = await read_hpa_object(kube, ns, name)
    spec: Obj = {}
    if a.min_replicas is not None:
        spec["minReplicas"] = a.min_replicas
    if a.max_replicas is not None:
        spec["maxReplicas"] = a.max_replicas
    if a.cpu_target_percent:
        # metrics is a list without a merge key: it is sent whole, the CPU target replaced.
        spec["metrics"] = with_cpu_target(live, a.cpu_target_percent)

    async def send(dry_run: str | None) -> Obj:
        return await kube.obj(
            "autoscaling",
            "patch_namespaced_horizontal_pod_autoscaler",
            name,
            ns,
            {"spec": spec},
            dry_run=dry_run,
            _content_type=MERGE_PATCH,
            what=f"horizontalpodautoscaler {name} in namespace {ns}",
        )

    return Plan(f"hpa/{name}", live, send, view=bounds)


# Annotations `kubectl rollout undo` keeps from the deployment rather than copy from the revision.
_UNDO_KEEPS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


def _without_hash(template: Obj) -> Obj:
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != "pod-template-hash"}
    return {**template, "metadata": {**metadata, "labels": labels}}


async def _undo(kube: KubeClient, a: K8sRolloutUndo, t: ServiceBinding) -> Plan:
    """`kubectl rollout undo [--to-revision=N]`: the previous revision, whatever changed in it."""
    ns, name = a.namespace or t.namespace, a.deployment or t.deployment
    live = await read_deployment(kube, ns, name)
    history = await revisions(kube, live)
    if a.to_revision is not None:
        target = next((r for r in history if r.number == a.to_revision), None)
    else:
        # kubectl's previous revision is the second highest, not "below the current one".
        target = history[-2] if len(history) >= 2 else None
    if target is None:
        available = ", ".join(str(r.number) for r in history) or "none"
        which = f"revision {a.to_revision}" if a.to_revision else "earlier revision"
        raise KubeError(f"deployment/{name} has no {which} (available: {available})")
    if dig(live, "spec", "paused"):
        raise KubeError(f"deployment/{name} is paused; resume it before rolling back")
    template = _without_hash(dict(dig(target.replica_set, "spec", "template") or {}))
    if template == _without_hash(dict(dig(live, "spec", "template") or {})):
        raise KubeError(
            f"deployment/{name} already runs the template of revision {target.number}; "
            "nothing to roll back"
        )
    kept = dig(live, "metadata", "annotations") or {}
    copied = dig(target.replica_set, "metadata", "annotations") or {}
    annotations = {k: v for k, v in kept.items() if k in _UNDO_KEEPS}
    annotations |= {k: v for k, v in copied.items() if k not in _UNDO_KEEPS}
    # The same JSON patch kubectl sends: the template replaced outright (a merge would keep
    # fields added since), and the revision's own annotations such as its change-cause.
    body = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    plan = await _patch_deployment(kube, ns, name, body, JSON_PATCH)
    return Plan(f"deployment/{name} to revision {target.number}", plan.live, plan.send)


async def _delete_pod(kube: KubeClient, a: K8sDeletePod, t: ServiceBinding) -> Plan:
    ns = a.namespace or t.namespace
    what = f"pod {a.pod} in namespace {ns}"
    live = await kube.obj("core", "read_namespaced_pod", a.pod, ns, what=what)
    owners = [
        f"{o.get('kind')} {o.get('name')}" for o in dig(live, "metadata", "ownerReferences") or []
    ]
    phase = dig(live, "status", "phase") or "Unknown"
    before = f"pod {a.pod}: {phase}" + (f", owned by {', '.join(owners)}" if owners else "")
    after = f"pod {a.pod} would be deleted; " + (
        "its controller recreates it" if owners else "it has no controller, nothing recreates it"
    )

    async def send(dry_run: str | None) -> Obj:
        return await kube.obj(
            "core", "delete_namespaced_pod", a.pod, ns, dry_run=dry_run, what=what
        )

    return Plan(f"pod/{a.pod}", live, send, outcome=(before, after))


async def _service_selector(
    kube: KubeClient, a: K8sPatchServiceSelector, t: ServiceBinding
) -> Plan:
    ns, name = a.namespace or t.namespace, a.service or t.service
    what = f"service {name} in namespace {ns}"
    live = await kube.obj("core", "read_namespaced_service", name, ns, what=what)
    wanted = dict(part.split("=", 1) for part in a.selector.replace("==", "=").split(","))
    wanted = {k.strip(): v.strip() for k, v in wanted.items()}
    # Strategic merge keeps map keys it is not told about: removed keys are sent as null.
    removed = {k: None for k in dig(live, "spec", "selector") or {} if k not in wanted}
    body = {"spec": {"selector": {**wanted, **removed}}}

    async def send(dry_run: str | None) -> Obj:
        return await kube.obj(
            "core",
            "patch_namespaced_service",
            name,
            ns,
            body,
            dry_run=dry_run,
            _content_type=STRATEGIC_MERGE,
            what=what,
        )

    return Plan(f"service/{name}", live, send, scope=("spec", "selector"))


_Planner = Callable[[KubeClient, Any, ServiceBinding], Awaitable[Plan]]
PLANNERS: dict[str, tuple[str, _Planner]] = {
    "k8s.rollout_restart": ("restart", _restart),
    "k8s.scale": ("scale", _scale),
    "k8s.set_image": ("set image", _set_image),
    "k8s.rollout_undo": ("roll back", _undo),
    "k8s.patch_resources": ("set resources", _patch_resources),
    "k8s.delete_pod": ("delete", _delete_pod),
    "k8s.patch_service_selector": ("set selector", _service_selector),
    "k8s.set_env": ("set env", _set_env),
    "k8s.patch_hpa": ("patch", _patch_hpa),
}


async def preview_fix(kube: KubeClient, action: WriteAction, target: ServiceBinding) -> Preview:
    verb, planner = PLANNERS[action.type]
    plan = await planner(kube, action, target)
    change = plan.change(await plan.send("All"))
    gist = plan.outcome[1] if plan.outcome else change.gist()
    return Preview(
        summary=redact(f"{verb} {plan.title}: {gist}"),
        before=change.side(change.before),
        after=change.side(change.after),
        diff=change.diff(plan.title),
    )


async def apply_fix(kube: KubeClient, action: WriteAction, target: ServiceBinding) -> CheckResult:
    verb, planner = PLANNERS[action.type]
    plan = await planner(kube, action, target)
    change = plan.change(await plan.send(None))
    gist = f"deleted; {plan.outcome[1].split('; ', 1)[1]}" if plan.outcome else change.gist()
    summary = redact(f"{verb} {plan.title}: {gist}")
    return CheckResult(status="ok", summary=summary, output=change.diff(plan.title))


FIXES = {name: Fix(preview_fix, apply_fix) for name in PLANNERS}
