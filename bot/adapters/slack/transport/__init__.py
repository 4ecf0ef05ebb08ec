"""How Slack requests arrive: HTTP through the process web app, or Socket Mode."""
