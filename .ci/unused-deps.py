#!/usr/bin/env python3
"""Fails when a workspace crate declares a dependency its code never names.

For every crate under crates/, each entry of [dependencies] must be named (as `name::` or
`use name` / `extern crate name`, with `-` read as `_`) somewhere in src/, build.rs or the
crate's templates; each [dev-dependencies] entry in src/, tests/, benches/ or examples/. A
dependency that is only needed for its features (enabled for another crate's sake) says so with
a `# used for features: …` comment on its line.
"""

import pathlib
import re
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
failed = False


def sources(crate, dirs):
    for d in dirs:
        p = crate / d
        if p.is_file():
            yield p
        elif p.is_dir():
            yield from (f for f in p.rglob("*") if f.suffix in (".rs", ".html", ".txt") and f.is_file())


def named(text, dep):
    ident = re.escape(dep.replace("-", "_"))
    return re.search(rf"(\b{ident}::|\buse\s+{ident}\b|extern\s+crate\s+{ident}\b|#\[{ident}\(|\b{ident}!\s*[\(\[\{{])", text)


for manifest in sorted(root.glob("crates/*/Cargo.toml")):
    crate = manifest.parent
    raw = manifest.read_text()
    data = tomllib.loads(raw)
    waived = set(re.findall(r"^([A-Za-z0-9_-]+)\s*[.=].*#\s*used for features", raw, re.M))
    for section, dirs in (
        ("dependencies", ["src", "build.rs", "templates"]),
        ("dev-dependencies", ["src", "tests", "benches", "examples"]),
    ):
        deps = data.get(section, {})
        if not deps:
            continue
        text = "\n".join(f.read_text(errors="replace") for f in sources(crate, dirs))
        for dep, spec in deps.items():
            name = spec.get("package", dep) if isinstance(spec, dict) else dep
            if dep in waived or named(text, dep) or named(text, name):
                continue
            print(f"FAILED: {crate.name} declares {section} `{dep}` but never uses it")
            failed = True

print("ok: every declared dependency is used" if not failed else "unused dependencies found")
sys.exit(1 if failed else 0)
