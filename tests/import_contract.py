"""An import-contract checker: which module of a package may import which.

It reads every ``.py`` file of a package as text (``ast``; nothing is imported or run) and
collects every import, including those inside functions (a lazy import is still an
import). A :class:`Contract` says:

``layers``
    from the top down; each layer is a tuple of *rooms* (module prefixes). A module may
    import its own room, and any room of a lower layer; never a higher layer, and never
    another room of its own layer (rooms of one layer are independent). Every module of
    the package must be in a room, so a new module has to be placed deliberately.
``external``
    a third-party package -> the rooms allowed to import it (anything else may not).

:func:`violations` returns one line per broken rule, ``path:line: module imports target
(rule)``; an empty list means the contract holds.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Contract:
    package: str
    layers: tuple[tuple[str, ...], ...]
    external: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def room(self, module: str) -> tuple[int, str] | None:
        """``(layer index, room)`` of ``module`` (the longest matching room), else None."""
        best: tuple[int, str] | None = None
        for i, layer in enumerate(self.layers):
            for room in layer:
                if (module == room or module.startswith(room + ".")) and (
                    best is None or len(room) > len(best[1])
                ):
                    best = (i, room)
        return best


def module_name(root: Path, path: Path, package: str) -> str:
    """``root/a/b.py`` -> ``package.a.b``; ``root/a/__init__.py`` -> ``package.a``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """``(line, imported module)`` for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from pkg import module` imports pkg.module
                yield node.lineno, f"{target}.{alias.name}"


def violations(root: Path, contract: Contract) -> list[str]:
    """Every import in the package under ``root`` that breaks ``contract``."""
    out: dict[tuple[Path, int, str], str] = {}  # one line per import and room it reaches
    pkg = contract.package
    for path in sorted(root.rglob("*.py")):
        module = module_name(root, path, pkg)
        where = contract.room(module)
        if module != pkg and where is None:
            out[path, 1, ""] = f"{path}:1: {module} is in no room of the contract (place it)"
            continue
        for line, target in imports(path, module):
            top = target.split(".")[0]
            if top in contract.external:
                allowed = contract.external[top]
                if not any(module == r or module.startswith(r + ".") for r in allowed):
                    out.setdefault(
                        (path, line, top),
                        f"{path}:{line}: {module} imports {target} "
                        f"(only {', '.join(allowed)} may import {top})",
                    )
                continue
            if top != pkg or where is None or target == pkg:
                continue  # the standard library and other packages; the root facade
            dest = contract.room(target)
            if dest is None:
                continue  # `from pkg.room import name`: the name is not a module
            layer, room = where
            if dest[0] < layer:
                out.setdefault(
                    (path, line, dest[1]),
                    f"{path}:{line}: {module} imports {target} (a higher layer)",
                )
            elif dest[0] == layer and dest[1] != room:
                out.setdefault(
                    (path, line, dest[1]),
                    f"{path}:{line}: {module} imports {target} "
                    f"({room} and {dest[1]} are independent rooms of one layer)",
                )
    return list(out.values())
