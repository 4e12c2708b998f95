"""The pages' own files: the vendored npm packages are the versions assets/package-lock.json
pins, unchanged, each with its licence; no template carries inline script or style (the
Content-Security-Policy would refuse it, and the browser would log an error)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from monitor.web.pages import STATIC

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "monitor" / "web" / "templates"
VENDOR = STATIC / "vendor"


def test_vendored_files_are_the_locked_versions_unchanged_with_their_licences() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    lock = json.loads((ROOT / "assets" / "package-lock.json").read_text())
    wanted = json.loads((ROOT / "assets" / "package.json").read_text())["dependencies"]
    assert set(manifest) == set(wanted)
    for name, entry in manifest.items():
        assert entry["version"] == lock["packages"][f"node_modules/{name}"]["version"], name
        assert entry["license"], name
        assert "LICENSE" in entry["files"], f"{name}: no licence file vendored"
        for file, digest in entry["files"].items():
            data = (VENDOR / name / file).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest, f"{name}/{file} changed"
        assert sorted(p.name for p in (VENDOR / name).iterdir()) == sorted(entry["files"])


def _templates() -> list[tuple[str, str]]:
    return [(path.name, path.read_text()) for path in sorted(TEMPLATES.glob("*.html"))]


def test_no_template_has_inline_script_or_style() -> None:
    found: list[str] = []
    for name, text in _templates():
        for tag in re.finditer(r"<script\b([^>]*)>", text):
            attrs = tag.group(1)
            if "src=" not in attrs and 'type="application/json"' not in attrs:
                found.append(f"{name}: inline script {tag.group(0)}")
        if re.search(r"<style\b", text):
            found.append(f"{name}: a <style> element")
        if re.search(r"\sstyle\s*=", text):
            found.append(f"{name}: a style attribute")
        if re.search(r"\son[a-z]+\s*=", text):
            found.append(f"{name}: an inline event handler")
    assert found == []


def test_every_form_that_posts_carries_the_csrf_field() -> None:
    missing = []
    for name, text in _templates():
        for form in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if re.search(r'method="post"', form.group(0), re.I) and \
                    "csrf_field" not in form.group(1):
                missing.append(name)
    assert missing == []


def test_a_mistyped_page_address_is_a_page_and_an_api_one_a_problem(make_web: Any) -> None:
    web = make_web()
    page = web.client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = web.client.get("/api/v1/no-such", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    assert web.client.get("/no-such-page").mimetype == "application/problem+json"


def test_a_hashed_static_url_is_cached_for_good_an_import_revalidated(make_web: Any) -> None:
    web = make_web()
    hashed = web.client.get("/static/js/lib.js?v=abc")
    assert hashed.status_code == 200
    assert "immutable" in hashed.headers["Cache-Control"]
    plain = web.client.get("/static/js/lib.js")
    assert plain.headers["Cache-Control"] == "no-cache"
    assert web.client.get("/static/js/lib.js", headers={
        "If-None-Match": plain.headers["ETag"]}).status_code == 304
