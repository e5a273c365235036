"""The README and docs/ stay true to the code: the two commands, the settings table, the metrics,
the layout, and the links between the documents."""

from __future__ import annotations

import re

from statuspage.config import SETTINGS

from ..helpers import ROOT

README = (ROOT / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in (ROOT / "docs").glob("*.md")}


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block and README.index(block.group(0)) < README.index("## ")
    assert block.group(1).splitlines() == ["pip install -r requirements.txt && python -m statuspage demo",
                                           "pip install -r requirements-dev.txt && pytest"]


def test_every_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", DOCS["configuration.md"], re.M))
    assert set(rows) == {setting.env for setting in SETTINGS}  # no setting missing, none that does not exist
    for setting in SETTINGS:
        expected = "**required**" if setting.required else (setting.default or "unset")
        assert rows[setting.env].strip() == expected, setting.env


def test_every_metric_series_is_documented() -> None:
    from prometheus_client import CollectorRegistry

    from statuspage.metrics import Metrics

    documented = set(re.findall(r"`(statuspage_[a-z_]+)", DOCS["api.md"]))
    # Counters are exported with _total; the docs name them that way.
    exported = {metric.name + "_total" if metric.type == "counter" else metric.name
                for metric in Metrics(CollectorRegistry()).registry.collect()}
    assert exported <= documented, exported - documented


def test_every_module_is_in_the_layout_table() -> None:
    table = DOCS["architecture.md"]
    package = ROOT / "statuspage"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "__main__.py":
            continue
        # a row names the module by its path, or by its bare file name after a sibling's path
        folder = path.parent.relative_to(ROOT).as_posix()
        named = re.search(rf"`{re.escape(folder)}/[a-z_]+\.py`[^|]*`{path.name}`", table)
        assert f"`{relative}`" in table or named or f"`{folder}/`" in table, relative


def test_every_document_is_linked_from_the_readme_and_every_link_resolves() -> None:
    for name in DOCS:
        assert f"(docs/{name})" in README, name
    for where, text in [("README.md", README), *((f"docs/{n}", t) for n, t in DOCS.items())]:
        base = (ROOT / where).parent
        for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", text):
            assert (base / target).resolve().is_file(), f"{where} links to {target}"
        for target, anchor in re.findall(r"\]\(([^)#]*\.md)?#([^)]+)\)", text):
            doc = (base / target).resolve() if target else (ROOT / where)
            headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                        for h in re.findall(r"^#+ (.+)$", doc.read_text(), re.M)}
            assert anchor in headings, f"{where} links to {target}#{anchor}"
