"""A nudge is posted once across replicas: a replica that dies between its post and the record of
it does not make the next one post it again, and a nudge held for a pending room outlives the
replica that held it (it is held in the store, not in that replica's memory)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.slack import room_repair
from bot.adapters.slack.factory import build_slack
from bot.adapters.slack.listeners.nudges import SlackNotifier
from bot.adapters.slack.rooms import CHANNEL
from bot.app import running_engine
from bot.config import Channels, Config, EscalationContact, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.notifier import FIRING
from bot.engine.scheduler import Scheduler
from bot.playbooks.models import EscalationLevel
from tests.adapters.slack.conftest import ALICE, BOB, bot_settings
from tests.adapters.slack.test_nudges import _fast_playbooks, _until
from tests.adapters.slack.test_room_pending import FailingOver
from tests.support.slack_api import SlackApiStandIn

LEAD = Actor(id=ALICE, name="alice")
INCIDENTS = "C0GENERAL"
LEVEL_2 = "escalate to level 2"


@dataclass
class Replica:
    """One bot replica: its own engine (and store connection), Rooms and Slack notifier."""

    engine: Engine
    notifier: SlackNotifier


@dataclass
class Told:
    """The replica's Slack notifier, counting the level-2 firings it is told of; with `dies`,
    its store stops answering right after it posted level 2, as if killed there."""

    inner: SlackNotifier
    store: FailingOver | None = None
    level_2: list[str] = field(default_factory=list)

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        if level.level == 2:
            firing = FIRING.get()
            self.level_2.append(firing.id if firing else "")
        await self.inner.escalation_due(incident, level, contacts, late)
        if level.level == 2 and self.store is not None:
            self.store.down = True

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        await self.inner.status_reminder(incident, late)

    async def commander_needed(self, incident: Incident, late: bool) -> None:
        await self.inner.commander_needed(incident, late)

    async def fix_interrupted(self, interruption: Any) -> None:
        await self.inner.fix_interrupted(interruption)


@pytest.fixture
async def slack(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[tuple[SlackApiStandIn, Any]]:
    async with SlackApiStandIn() as api:
        api.add_user(BOB, "bob")
        settings = bot_settings(api, sandbox, tmp_path, _fast_playbooks(tmp_path / "playbooks"))
        config = Config(
            services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
            approvers=[ALICE, BOB],
            channels=Channels(incidents=INCIDENTS),
        )

        async def replica(stack: AsyncExitStack) -> Replica:
            engine = await stack.enter_async_context(running_engine(settings, config))
            return Replica(engine, build_slack(engine, config, settings).notifier)

        yield api, replica


def posts(api: SlackApiStandIn, channel: str, words: str) -> int:
    return sum(words in json.dumps(m) for m in api.messages(channel))


async def test_a_replica_killed_between_its_post_and_its_record_does_not_double(
    slack: tuple[SlackApiStandIn, Any],
) -> None:
    api, replica = slack
    async with AsyncExitStack() as stack:
        first, second = await replica(stack), await replica(stack)
        incident = await first.engine.open("api-down", "ecap-api", LEAD, "API returns 503")
        incident = await room_repair.open_room(first.notifier.ctx.rooms, incident, ALICE, INCIDENTS)
        room = incident.links[CHANNEL]
        store = FailingOver(first.engine.store)
        first.engine.store = store
        dying = Told(first.notifier, store)
        async with Scheduler(first.engine, dying, owner="first", retry_delay=0.2):
            await _until(lambda: store.down, "level 2 posted by the first replica")
        assert posts(api, room, LEVEL_2) == 1
        # Decided by the replica that posts it: there was nothing in Slack to look for.
        assert api.calls_to("conversations.history") == []
        # It died before recording the post: the record still has level 2 to post.
        stored = await second.engine.get(incident.id)
        assert "escalation-2" in stored.timers.unposted

        other = Told(second.notifier)
        async with Scheduler(second.engine, other, owner="second", retry_delay=0.2):
            await _until(lambda: posts(api, room, "escalate to level 3") == 1, "level 3")
            await _until(lambda: other.level_2, "level 2 told to the second replica")

            async def recorded() -> bool:
                return not (await second.engine.get(incident.id)).timers.unposted

            await _until_async(recorded, "the post recorded")
        # Told again under the same id, it found the first one's post rather than posting.
        assert other.level_2 == dying.level_2 == [f"{incident.id}/escalation-2"]
        assert api.calls_to("conversations.history"), "the second replica looked before posting"
        assert posts(api, room, LEVEL_2) == 1
        assert posts(api, room, "escalate to level 3") == 1


async def test_a_nudge_held_for_a_pending_room_outlives_the_replica_that_held_it(
    slack: tuple[SlackApiStandIn, Any],
) -> None:
    api, replica = slack
    api.fail_html("conversations.create", times=1000)
    async with AsyncExitStack() as stack:
        first, second = await replica(stack), await replica(stack)
        incident = await first.engine.open("api-down", "ecap-api", LEAD, "API returns 503")
        with pytest.raises(room_repair.RoomPending):
            await room_repair.open_room(first.notifier.ctx.rooms, incident, ALICE, INCIDENTS)
        holder = Told(first.notifier)
        async with Scheduler(first.engine, holder, owner="first", retry_delay=0.2):
            await _until(lambda: len(holder.level_2) >= 2, "level 2 tried twice, room pending")
        # Held in the store, where every replica sees it; not in the first replica's memory.
        assert not first.notifier.ctx.rooms.held
        stored = await second.engine.get(incident.id)
        assert "escalation-2" in stored.timers.unposted
        # Said once in the incidents channel, however often it was tried.
        assert posts(api, INCIDENTS, LEVEL_2) == 1

        api.fail_html("conversations.create", times=0)
        other = Told(second.notifier)
        async with Scheduler(second.engine, other, owner="second", retry_delay=0.2):
            await _until(lambda: api.channel_named("inc-0001-api-down-ecap-api"), "the room")
            made = api.channel_named("inc-0001-api-down-ecap-api")
            assert made is not None
            await _until(lambda: posts(api, made.id, LEVEL_2) == 1, "the held nudge")
            await _until(lambda: posts(api, made.id, "escalate to level 3") == 1, "level 3")

            async def recorded() -> bool:
                return not (await second.engine.get(incident.id)).timers.unposted

            await _until_async(recorded, "the posts recorded")
        assert posts(api, made.id, LEVEL_2) == 1
        assert posts(api, INCIDENTS, LEVEL_2) == 1


async def _until_async(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
