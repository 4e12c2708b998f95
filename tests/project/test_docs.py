"""The docs follow the code: the generated parts of README.md and docs/*.md are what
docs/gen.py makes of the code now (as sqlite-utils checks its docs with cog), every
relative link leads to a file and heading that exist, and the architecture's diagram
names every thread the program starts."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.app import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 360

pytest.importorskip("cogapp")


def _gen():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "docs" / "gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_docs_are_up_to_date():
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "gen.py"), "--check"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, (
        "the generated parts of the docs are stale: run `make docs` and commit the result\n"
        + done.stdout[-3000:] + done.stderr[-3000:])


@pytest.mark.parametrize("table", ["top_keys", "monitor_keys", "kind_keys", "expect_keys",
                                   "maintenance_keys", "provider_keys"])
def test_every_config_key_is_described_where_it_is_declared(table):
    # Raises gen.Undocumented naming the key and where to describe it.
    assert getattr(_gen(), table)().count("|") > 3


def _without_code(text: str) -> str:
    """The text without fenced blocks and inline code: links and headings there are not."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text.replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    for match in re.finditer(r"^#{1,6} (.+?)\s*$", text, flags=re.M):
        slug = _slug(match.group(1))
        seen = counts.get(slug, 0)
        counts[slug] = seen + 1
        found.add(slug if seen == 0 else f"{slug}-{seen}")
    return found


def _links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _without_code(page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto: ... : not ours to check offline
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no file {target.relative_to(ROOT)}")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, f"{page.name}:\n" + "\n".join(broken)


def test_the_links_checker_finds_a_broken_anchor(tmp_path):
    page = tmp_path / "a.md"
    page.write_text("# Title\n\n## Some `code` here\n\nSee [it](#some-code-here), "
                    "[not](#nothing).\n```\n[in code](#ignored)\n```\n")
    assert _anchors(page) == {"title", "some-code-here"}
    assert _links(page) == ["#some-code-here", "#nothing"]


def test_the_readme_stays_short():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= MAX_README_LINES, (
        f"README.md has {lines} lines: keep it a short welcome (at most ~350), and move"
        " reference text to docs/")


def _thread_names() -> set[str]:
    """The names the program gives its threads (up to the first `{` of an f-string)."""
    names = set()
    for path in (ROOT / "monitor").rglob("*.py"):
        text = path.read_text()
        for match in re.finditer(r"""(?:\bname|thread_name_prefix)=f?["']([^"'{]+)""",
                                 text):
            before = text[max(0, match.start() - 400):match.start()]
            if "Thread" in before or "thread_name_prefix" in match.group(0):
                names.add(match.group(1))
    return names


def test_the_architecture_names_every_thread_the_program_starts():
    names = _thread_names()
    assert {"store-writer", "scheduler", "curl-loop", "announcer"} <= names, names
    page = (ROOT / "docs" / "architecture.md").read_text()
    missing = sorted(name for name in names if name.rstrip("-_ ") not in page)
    assert not missing, ("threads started in monitor/ but not on the diagram of"
                         f" docs/architecture.md: {missing}")
