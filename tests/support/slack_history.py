"""conversations.history and conversations.replies over the stand-in's workspace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.slack_workspace import Answer, Params, Workspace

# Slack's default page size for both methods.
DEFAULT_LIMIT = 100


class HistoryMethods:
    """Newest first, as Slack pages them; metadata only with include_all_metadata."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.methods: dict[str, Callable[[Params], Answer]] = {
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
        }

    def conversations_history(self, params: Params) -> Answer:
        channel = self.workspace.visible(params.get("channel"))
        # Thread replies stay in their thread; the channel shows roots (and plain messages).
        top = [m for m in channel.messages if m.get("thread_ts", m["ts"]) == m["ts"]]
        return self._page(top, params)

    def conversations_replies(self, params: Params) -> Answer:
        channel = self.workspace.visible(params.get("channel"))
        # A reply's ts names its whole thread, as the root's does.
        root = str(channel.message(str(params.get("ts") or "")).get("thread_ts") or params["ts"])
        thread = [m for m in channel.messages if m.get("thread_ts", m["ts"]) == root]
        # Slack lists a thread oldest first, its root included.
        return self._page(thread[::-1], params, newest_first=False)

    def _page(
        self, messages: list[dict[str, Any]], params: Params, *, newest_first: bool = True
    ) -> Answer:
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or DEFAULT_LIMIT)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [m for m in messages if float(m["ts"]) >= oldest]
        if newest_first:
            found = found[::-1]
        page = [
            m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
            for m in found[:limit]
        ]
        return {"messages": page, "has_more": len(found) > limit}
