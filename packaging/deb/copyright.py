#!/usr/bin/env python3
"""Writes a Debian copyright file (DEP-5) for a Moat binary package.

Reads `cargo metadata --format-version 1` on stdin; the arguments name the workspace crates the
package ships. Every crate those crates link (normal dependencies, transitively: build scripts
and dev-dependencies are not shipped) gets a Files paragraph with its authors and licence, and
each licence named gets its text (from packaging/deb/licenses/) or a pointer to
/usr/share/common-licenses.
"""

import json
import sys
from pathlib import Path

LICENSES = Path(__file__).resolve().parent / "licenses"
COMMON = {"Apache-2.0": "Apache-2.0"}

HEADER = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: moat
Comment: Moat is written in Rust; its binaries link the Rust crates listed
 below statically (paths name each crate as published on crates.io), and the
 Rust standard library.

Files: *
Copyright: 2026 The Moat developers
License: Apache-2.0

Files: rust-std/*
Copyright: The Rust Project Developers
License: MIT or Apache-2.0

Files: nginx/*
Copyright: 2002-2021 Igor Sysoev
           2011-2022 Nginx, Inc.
Comment: nginx's C declarations, from which crate nginx-sys generates the
 bindings the module is compiled with.
License: BSD-2-Clause
"""


def shipped_packages(meta, roots):
    """The packages `roots` link: their normal dependencies, transitively."""
    by_id = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    todo = [p["id"] for p in meta["packages"] if p["name"] in roots and p["source"] is None]
    missing = set(roots) - {by_id[i]["name"] for i in todo}
    if missing:
        sys.exit(f"copyright.py: no workspace crate named {', '.join(sorted(missing))}")
    seen = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            if any(k["kind"] is None for k in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    return sorted((by_id[i] for i in seen if by_id[i]["source"]), key=lambda p: p["name"])


def dep5_license(spdx):
    """SPDX `MIT OR Apache-2.0` (or the old `MIT/Apache-2.0`, or `(A OR B) AND C`) in DEP-5
    spelling."""
    text = spdx.replace("/", " OR ")
    return " ".join(
        word.lower() if word in ("OR", "AND", "WITH") else word for word in text.split()
    )


def license_names(dep5):
    """The licence names in a DEP-5 licence expression."""
    words = dep5.replace("(", " ").replace(")", " ").split()
    names, skip = [], False
    for word in words:
        if word == "with":
            skip = True
        elif word in ("or", "and"):
            skip = False
        elif not skip:
            names.append(word)
    return names


def license_paragraph(name):
    if name in COMMON:
        return (
            f"License: {name}\n On Debian systems, the complete text of the license can be found in\n"
            f" /usr/share/common-licenses/{COMMON[name]}.\n"
        )
    path = LICENSES / name
    if not path.exists():
        sys.exit(f"copyright.py: no text for licence {name} in {LICENSES}")
    body = "\n".join(f" {line}" if line else " ." for line in path.read_text().splitlines())
    return f"License: {name}\n{body}\n"


def main():
    meta = json.load(sys.stdin)
    out = [HEADER]
    used = {"Apache-2.0", "MIT", "BSD-2-Clause"}
    for pkg in shipped_packages(meta, set(sys.argv[1:])):
        if not pkg.get("license"):
            sys.exit(f"copyright.py: crate {pkg['name']} declares no licence")
        licence = dep5_license(pkg["license"])
        used.update(license_names(licence))
        authors = [a.split(" <")[0] for a in pkg.get("authors") or []] or [f"The {pkg['name']} authors"]
        out.append(
            f"Files: rust-vendor/{pkg['name']}-{pkg['version']}/*\n"
            f"Copyright: {authors[0]}\n"
            + "".join(f"           {a}\n" for a in authors[1:])
            + f"License: {licence}\n"
        )
    out.extend(license_paragraph(name) for name in sorted(used))
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
