"""Checks across a playbook that one field's validation cannot see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from bot.config import Dependency, ServiceBinding, WorkloadRef
from bot.executors.params import PLACEHOLDER
from bot.playbooks.models import (
    CommunicationStep,
    DiagnosticStep,
    FixStep,
    Playbook,
    RootCause,
    Step,
    VerificationStep,
)
from bot.templates import TemplateRenderer

Loc = tuple[str | int, ...]


def semantic_problems(playbook: Playbook, templates: TemplateRenderer) -> Iterator[tuple[Loc, str]]:
    yield from _unique_ids(playbook)
    yield from _templates(playbook, templates)
    step_ids = {step.id for _, step in playbook.steps()}
    for loc, step in _located_steps(playbook):
        if isinstance(step, CommunicationStep) and step.template not in playbook.communications:
            known = ", ".join(sorted(playbook.communications)) or "none defined"
            yield (*loc, "template"), f"no communication '{step.template}' (defined: {known})"
        for field, action in step_actions(step):
            for placeholder in placeholders_in(action.model_dump()):
                if not binding_path_exists(placeholder):
                    yield (*loc, field), f"unknown placeholder ${{{placeholder}}}"
    for s, stage in enumerate(playbook.stages):
        for c, cause in enumerate(stage.root_causes):
            for a, step_id in enumerate(cause.see_also):
                if step_id not in step_ids:
                    loc = ("stages", s, "root_causes", c, "see_also", a)
                    yield loc, f"no step '{step_id}' in this playbook"
            yield from _symptoms(playbook, ("stages", s, "root_causes", c), cause)
    cause_ids = {cause.id for cause in playbook.root_causes()}
    for c, found in enumerate(playbook.post_incident):
        if found.cause is not None and found.cause not in cause_ids:
            yield ("post_incident", c, "cause"), f"no root cause '{found.cause}' in this playbook"
    for i, level in enumerate(playbook.escalation):
        if level.metric is not None:
            for placeholder in placeholders_in(level.metric.query):
                if not binding_path_exists(placeholder):
                    yield (
                        ("escalation", i, "metric", "query"),
                        f"unknown placeholder ${{{placeholder}}}",
                    )
    for i, (lower, higher) in enumerate(
        zip(playbook.escalation, playbook.escalation[1:], strict=False)
    ):
        # Levels on flags or metrics may come in any order; timed ones rise with their level.
        earlier = (
            higher.after is not None and lower.after is not None and higher.after <= lower.after
        )
        if higher.level <= lower.level or earlier:
            yield ("escalation", i + 1), "escalation levels must rise in level and in time"


def _symptoms(playbook: Playbook, loc: Loc, cause: RootCause) -> Iterator[tuple[Loc, str]]:
    for y, symptom in enumerate(cause.symptoms):
        if not symptom.step:
            continue
        found = playbook.find_step(symptom.step)
        if found is None:
            yield (*loc, "symptoms", y, "step"), f"no step '{symptom.step}' in this playbook"
        elif not isinstance(found[1], DiagnosticStep | VerificationStep):
            yield (
                (*loc, "symptoms", y, "step"),
                f"step '{symptom.step}' is a {found[1].kind} step: it reports no findings",
            )
    ruling = [y for y, s in enumerate(cause.symptoms) if s.rules_out]
    if ruling and not any(s.finding and not s.rules_out for s in cause.symptoms):
        yield (*loc, "symptoms", ruling[0]), "a cause that can only be ruled out is never suggested"


def _located_steps(playbook: Playbook) -> Iterator[tuple[Loc, Step]]:
    for s, stage in enumerate(playbook.stages):
        for i, step in enumerate(stage.steps):
            yield ("stages", s, "steps", i), step
        for c, cause in enumerate(stage.root_causes):
            for i, step in enumerate(cause.steps):
                yield ("stages", s, "root_causes", c, "steps", i), step


def _unique_ids(playbook: Playbook) -> Iterator[tuple[Loc, str]]:
    seen: set[str] = set()
    for loc, step in _located_steps(playbook):
        if step.id in seen:
            yield (*loc, "id"), f"step id '{step.id}' is used twice"
        seen.add(step.id)
    stages: set[str] = set()
    for s, stage in enumerate(playbook.stages):
        if stage.id in stages:
            yield ("stages", s, "id"), f"stage id '{stage.id}' is used twice"
        stages.add(stage.id)


def _templates(playbook: Playbook, templates: TemplateRenderer) -> Iterator[tuple[Loc, str]]:
    for key, communication in playbook.communications.items():
        problem = templates.problem(communication.template)
        if problem:
            yield ("communications", key, "template"), problem
    problem = templates.problem(playbook.post_incident_document)
    if problem:
        yield ("post_incident_document",), problem


def step_actions(step: Step) -> Iterator[tuple[str, BaseModel]]:
    if isinstance(step, DiagnosticStep | FixStep):
        yield "action", step.action
    if isinstance(step, FixStep) and step.verify is not None:
        yield "verify", step.verify
    if isinstance(step, VerificationStep):
        yield "check", step.check


def placeholders_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from PLACEHOLDER.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from placeholders_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from placeholders_in(item)


def binding_path_exists(path: str) -> bool:
    """`service.namespace`, `service.dependencies.postgres.host`, ... name real binding fields."""
    parts = path.split(".")
    if parts[0] != "service" or len(parts) < 2:
        return False
    field = parts[1]
    if field == "dependencies":
        return len(parts) == 4 and parts[3] in Dependency.model_fields
    if field == "ingress_controller":
        return len(parts) == 3 and parts[2] in WorkloadRef.model_fields
    return len(parts) == 2 and field in ServiceBinding.model_fields
