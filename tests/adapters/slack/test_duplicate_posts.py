"""A post whose answer is lost is looked up by its metadata before it is posted again."""

from __future__ import annotations

import json

from bot.adapters.slack.context import text_message
from tests.adapters.slack.conftest import SlackBot
from tests.support.slack_workspace import BOT_USER_ID


def _copies(bot: SlackBot, channel: str, words: str) -> list[dict[str, object]]:
    return [m for m in bot.api.messages(channel) if words in json.dumps(m)]


async def test_a_post_whose_answer_is_lost_is_not_posted_twice(slack_bot: SlackBot) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    bot.api.workspace.channel("C0GENERAL").members.append(BOT_USER_ID)
    bot.api.drop_connection("chat.postMessage", after=True)
    ts = await bot.ctx.rooms.post_to("C0GENERAL", text_message("one copy only"))
    copies = _copies(bot, "C0GENERAL", "one copy only")
    assert len(copies) == 1 and copies[0]["ts"] == ts
    assert bot.api.calls_to("conversations.history")


async def test_a_reply_whose_answer_is_lost_is_found_in_its_thread(slack_bot: SlackBot) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    bot.api.workspace.channel("C0GENERAL").members.append(BOT_USER_ID)
    root = await bot.ctx.rooms.post_to("C0GENERAL", text_message("the root"))
    bot.api.drop_connection("chat.postMessage", after=True)
    ts = await bot.ctx.rooms.post_to("C0GENERAL", text_message("a reply"), thread_ts=root)
    copies = _copies(bot, "C0GENERAL", "a reply")
    assert len(copies) == 1 and copies[0]["ts"] == ts
    assert bot.api.calls_to("conversations.replies")


async def test_a_post_lost_before_slack_saw_it_is_posted_once(slack_bot: SlackBot) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    bot.api.workspace.channel("C0GENERAL").members.append(BOT_USER_ID)
    bot.api.drop_connection("chat.postMessage", after=False)
    ts = await bot.ctx.rooms.post_to("C0GENERAL", text_message("posted after all"))
    copies = _copies(bot, "C0GENERAL", "posted after all")
    assert len(copies) == 1 and copies[0]["ts"] == ts
