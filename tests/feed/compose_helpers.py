"""Reading docker-compose.yml as a compose implementation does (variable interpolation,
environment pass-through) so that its services' commands can be run without Docker."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose-spec interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``.

    Examples
    --------
    >>> env = {"SET": "x", "EMPTY": ""}
    >>> interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$SET $SET", env)
    'x d  d $SET x'
    """

    def sub(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg") or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise ValueError(f"${{{name}}}: {arg or 'required'}")
        return value or ""

    return _VAR.sub(sub, text)


def _walk(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(x, env) for x in node]
    if isinstance(node, dict):
        return {k: _walk(v, env) for k, v in node.items()}
    return node


def load(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file with YAML anchors merged and variables interpolated from ``env``."""
    raw = yaml.safe_load(path.read_text())
    resolved: dict[str, Any] = _walk(raw, env)
    return resolved


def variables(path: Path) -> dict[str, str | None]:
    """Every host variable the file reads: ``{name: default}`` (``None``: no default), plus
    the pass-through ``environment`` keys with a null value."""
    text = path.read_text()
    found: dict[str, str | None] = {}
    for m in _VAR.finditer(text):
        name = m.group("braced") or m.group("plain")
        if name:
            found[name] = m.group("arg") if m.group("op") in (":-", "-") else None
    raw = yaml.safe_load(text)
    for service in raw["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if value is None:
                found.setdefault(key, None)
    return found


def service_env(service: Mapping[str, Any], host: Mapping[str, str]) -> dict[str, str]:
    """A service's environment as a container gets it: values as strings, a key without
    value taken from the host environment when set there (and absent otherwise)."""
    out: dict[str, str] = {}
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    for key, value in env.items():
        if value is None:
            if key in host:
                out[key] = host[key]
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """``{container path: host path}`` of a service's bind mounts (``src:dst[:mode]``)."""
    out: dict[str, str] = {}
    for spec in service.get("volumes") or []:
        parts = spec.split(":")
        if len(parts) >= 2 and (parts[0].startswith((".", "/"))):
            out[parts[1]] = parts[0]
    return out
