"""Drills: a playbook worked against a built-in stand-in for Kubernetes or Docker.

The stand-ins (`kubernetes/`, `docker/`, the protocols of `wire/`) ship in the wheel and the
production image, because a game day against the sandbox is a product feature of a deployed bot.
Nothing in the product imports this package but the `drill` and `sandbox` commands, lazily.
"""
