"""The README stays true to the code: its commands and its settings table."""

from __future__ import annotations

import re

from statuspage.config import SETTINGS

from ..helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block and README.index(block.group(0)) < README.index("## ")
    assert block.group(1).splitlines() == ["pip install -r requirements.txt && python -m statuspage demo",
                                           "pip install -r requirements-dev.txt && pytest"]


def test_every_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", README, re.M))
    assert set(rows) == {setting.env for setting in SETTINGS}  # no setting missing, none that does not exist
    for setting in SETTINGS:
        expected = "**required**" if setting.required else (setting.default or "unset")
        assert rows[setting.env].strip() == expected, setting.env


def test_every_metric_series_is_documented() -> None:
    from prometheus_client import CollectorRegistry

    from statuspage.metrics import Metrics

    documented = set(re.findall(r"`(statuspage_[a-z_]+)", README))
    series = {metric.name for metric in Metrics(CollectorRegistry()).registry.collect()}
    # Counters are exported with _total; the README names them that way.
    exported = {name + "_total" if name in ("statuspage_refreshes", "statuspage_notifications") else name
                for name in series}
    assert exported <= documented, exported - documented


def test_every_module_is_in_the_layout_table() -> None:
    table = README[README.index("## Layout"):README.index("## Settings")]
    package = ROOT / "statuspage"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "__main__.py":
            continue
        # a row names the module by its path, or by its bare file name after a sibling's path
        folder = path.parent.relative_to(ROOT).as_posix()
        named = re.search(rf"`{re.escape(folder)}/[a-z_]+\.py`[^|]*`{path.name}`", table)
        assert f"`{relative}`" in table or named or f"`{folder}/`" in table, relative
