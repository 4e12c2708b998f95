"""Copy the files the pages use out of the npm packages (`npm ci` here first), with their
licences, into monitor/web/static/vendor/, and write manifest.json: each package's version,
licence and the SHA-256 of each file copied (tests/web/pages/test_assets.py checks them).
Run by `make assets`."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "monitor" / "web" / "static" / "vendor"
# Per package: the files the pages load, and its licence.
FILES = {
    "uplot": ["dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"],
}


def main() -> None:
    manifest = {}
    for package, files in FILES.items():
        source = HERE / "node_modules" / package
        meta = json.loads((source / "package.json").read_text())
        target = VENDOR / package
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        hashes = {}
        for name in files:
            data = (source / name).read_bytes()
            (target / Path(name).name).write_bytes(data)
            hashes[Path(name).name] = hashlib.sha256(data).hexdigest()
        manifest[package] = {"version": meta["version"], "license": meta["license"],
                             "homepage": meta.get("homepage", ""), "files": hashes}
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print("vendored", ", ".join(f"{name} {meta['version']}" for name, meta in manifest.items()))


if __name__ == "__main__":
    main()
