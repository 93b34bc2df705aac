#!/usr/bin/env python3
"""Syntax-checks every .swift file under ios/ with tree-sitter-swift (no Swift
compiler exists on the build machines here).

Installs its pinned parser first, idempotently, the way scripts/test-all
installs its Python tools (python3 -m pip, pinned; nothing happens when the
pinned versions are present). Fails on any ERROR or MISSING node. In the
generated bindings (ios/Sources/CarnetFFI) the `@_documentation(visibility:
private)` attribute lines are dropped first: the grammar does not know that
attribute, and it is the only construct there it misreads. Lines are blanked,
not removed, so that reported line numbers stay true.

Usage: python3 scripts/swift-syntax.py [ROOT]   (ROOT defaults to the repository)
Prints one line per file with a problem, then `swift-syntax: N files, M with errors`.
"""
import importlib
import os
import subprocess
import sys

PINS = {"tree-sitter": "0.25.2", "tree-sitter-swift": "0.7.4"}
GENERATED_DIR = os.path.join("ios", "Sources", "CarnetFFI")
DROPPED_LINE = "@_documentation(visibility: private)"


def installed(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def ensure_parser():
    missing = [f"{name}=={version}" for name, version in PINS.items() if installed(name) != version]
    if missing:
        print(f"swift-syntax: installing {' '.join(missing)} (pip)", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *missing],
            check=True,
        )
        importlib.invalidate_caches()
    import tree_sitter
    import tree_sitter_swift
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))


def problems(parser, source):
    """(line, column, kind) of each ERROR or MISSING node, outermost only."""
    found = []
    stack = [parser.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            found.append((row + 1, column + 1, "missing " + node.type if node.is_missing else "syntax error"))
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(found)


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    parser = ensure_parser()
    files = []
    for directory, subdirs, names in os.walk(os.path.join(root, "ios")):
        subdirs[:] = sorted(d for d in subdirs if d not in (".build", "build", "DerivedData"))
        files += [os.path.join(directory, n) for n in sorted(names) if n.endswith(".swift")]
    bad = 0
    for path in files:
        relative = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if relative.startswith(GENERATED_DIR + os.sep):
            lines = ["" if line.strip() == DROPPED_LINE else line for line in lines]
        found = problems(parser, "\n".join(lines).encode("utf-8"))
        if found:
            bad += 1
            for line, column, kind in found[:10]:
                print(f"{relative}:{line}:{column}: {kind}: {lines[line - 1].strip()[:100]}")
    print(f"swift-syntax: {len(files)} files, {bad} with errors")
    if not files:
        print("swift-syntax: no Swift files found under ios/", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
