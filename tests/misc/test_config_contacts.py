"""Escalation contacts by level number or by a level's title."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.errors import ConfigError

RAW = {
    "escalation": {
        2: {"name": "Engineering Manager", "notify": ["U0MANAGER"]},
        "3": {"name": "CTO", "notify": ["U0CTO"], "page": True},
        "Security Team": {"notify": ["S0SECURITY"]},
    }
}


def test_a_title_names_the_same_people_whatever_a_playbook_numbers_it() -> None:
    config = parse_config(RAW)
    security = config.contact(1, "security team")
    assert security is not None and security.notify == ["S0SECURITY"]
    # The gateway's level 3 is its Platform Team Lead: no title matches, so level 3 answers.
    fallback = config.contact(3, "Platform Team Lead")
    assert fallback is not None and fallback.notify == ["U0CTO"]


def test_numbers_written_as_strings_are_levels() -> None:
    config = parse_config(RAW)
    assert 3 in config.escalation and "3" not in config.escalation
    manager = config.contact(2)
    assert manager is not None and manager.notify == ["U0MANAGER"]
    assert config.contact(4, "Nobody") is None


def test_a_bad_contact_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^config: escalation\.Security Team\.notify"):
        parse_config({"escalation": {"Security Team": {"notify": "S0SECURITY"}}})
