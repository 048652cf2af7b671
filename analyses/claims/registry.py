"""The committed registry of verdict rules (``rules.json``): each claim's rule fingerprint.

A rule is registered when its fingerprint (source of its functions + thresholds, see
:meth:`Rule.fingerprint`) is written here, in the same commit as the rule. ``evsim verify``
marks a claim whose rule differs from its registration ("changed") until the registration is
updated with ``evsim rules --register``; a test keeps the committed file current.
"""

from __future__ import annotations

import json
from pathlib import Path

from evsim.store import atomic_write_text

__all__ = ["REGISTRY_FILE", "load_registry", "registration", "register"]

REGISTRY_FILE = Path(__file__).with_name("rules.json")


def load_registry(path=None) -> dict:
    """{claim id: {"fingerprint", "functions", "thresholds"}} from ``path`` (default
    :data:`REGISTRY_FILE`; {} if there is no file)."""
    path = Path(path or REGISTRY_FILE)
    return json.loads(path.read_text()) if path.is_file() else {}


def registration(claim, registry: dict | None = None) -> dict:
    """Whether ``claim``'s rule is the registered one: {"status": "registered", "changed" or
    "unregistered", "fingerprint": today's, "registered": the registry's (or None)}."""
    registry = load_registry() if registry is None else registry
    fingerprint = claim.rule.fingerprint()
    registered = registry.get(claim.id, {}).get("fingerprint")
    status = "unregistered" if registered is None else \
        "registered" if registered == fingerprint else "changed"
    return {"status": status, "fingerprint": fingerprint, "registered": registered}


def _record(claim) -> dict:
    return {"fingerprint": claim.rule.fingerprint(),
            "functions": [f"{f.__module__}.{f.__qualname__}" for f in claim.rule.functions],
            "thresholds": claim.rule.thresholds_json()}


def register(claims, path=None) -> list[str]:
    """Write the current rules of ``claims`` into the registry at ``path`` (default
    :data:`REGISTRY_FILE`; other claims' entries kept); returns the ids whose registration
    changed."""
    path = Path(path or REGISTRY_FILE)
    registry = load_registry(path)
    changed = [c.id for c in claims if registry.get(c.id) != _record(c)]
    registry.update({c.id: _record(c) for c in claims})
    atomic_write_text(path, json.dumps(registry, indent=1, sort_keys=True) + "\n")
    return changed
