"""Engine results as Slack blocks, messages and modals, escaped and within Slack's limits."""
