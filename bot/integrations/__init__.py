"""Outside services the engine keeps informed: a status page and a pager, over HTTP."""
