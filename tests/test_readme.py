"""The README stays true to the code: its commands and its settings table."""

from __future__ import annotations

import re
from pathlib import Path

from statuspage.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block and README.index(block.group(0)) < README.index("## ")
    assert block.group(1).splitlines() == ["pip install -r requirements.txt && python -m statuspage demo",
                                           "pip install -r requirements-dev.txt && pytest"]


def test_every_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", README, re.M))
    for setting in SETTINGS:
        assert setting.env in rows, setting.env
        expected = "**required**" if setting.required else (setting.default or "unset")
        assert rows[setting.env].strip() == expected, setting.env
