"""claims.json and report.md from measured claim results."""

from __future__ import annotations

import math

import numpy as np

from evsim.store import atomic_write_json, atomic_write_text

__all__ = ["jsonable", "write_claims_json", "write_report", "what_would_flip", "format_number"]


def jsonable(value):
    """Convert numpy scalars/arrays and non-finite floats into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_claims_json(path, entries: list[dict], manifest: dict) -> None:
    """The contract of DESIGN.md: {"claims": [...], "manifest": {...}}."""
    atomic_write_json(path, jsonable({"claims": entries, "manifest": manifest}))


def format_number(value) -> str:
    """A number (or list of numbers) as report text: 4 significant digits, "-" for None."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_number(v) for v in value) + "]"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def what_would_flip(entry: dict) -> str:
    """The sensitivity choices and seeds under which the verdict differs from the headline."""
    flips = [f"{item['choice']} ({item['verdict']})" for item in entry["sensitivity"]
             if item["verdict"] != entry["verdict"]]
    flips += [f"seed {seed} ({verdict})" for seed, verdict in entry["verdict_by_seed"].items()
              if verdict != entry["verdict"]]
    if flips:
        return "; ".join(flips) + "."
    return ("none of the listed alternatives or seeds." if entry["sensitivity"] else
            "not analysed: no alternative choices are listed for this claim.")


def write_report(path, entries: list[dict], manifest: dict, not_run: list[str]) -> None:
    """report.md: a table of every claim, then one section per claim with rule and figures."""
    lines = ["# evsim verification report", "",
             f"evsim {manifest['evsim']}, brian2 {manifest['brian2']}, target "
             f"`{manifest['target']}`, seeds "
             f"{', '.join(str(s) for s in manifest.get('seeds', [manifest['seed']]))}, "
             f"{manifest['scale']} run, git "
             f"{manifest['git_commit']}"
             f"{' with uncommitted changes' if manifest.get('git_dirty') else ''}.", "",
             "| claim | statement | source | expected | estimate | 95% CI | verdict | seeds "
             "| ran on | figure |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        figure = next((f for f in e["figures"] if f.endswith(".pdf")), None)
        link = f"[pdf]({figure})" if figure else "-"
        lines.append(f"| `{e['id']}` | {e['statement']} | {e['source']} | "
                     f"{format_number(e['expected'])} | {format_number(e['estimate'])} | "
                     f"{format_number(e['ci95'])} | **{e['verdict']}** | {e['seeds_agreeing']} | "
                     f"{e['target'] or '-'} | {link} |")
    if not_run:
        lines += ["", "Claims not selected in this run: "
                  + ", ".join(f"`{c}`" for c in not_run) + "."]
    for e in entries:
        lines += ["", f"## `{e['id']}`: {e['verdict']}", "", f"**Statement.** {e['statement']} "
                  f"({e['source']})", "", f"**Protocol and rule.** {e['protocol']}", "",
                  f"**Seeds.** {e['seeds_agreeing']}: "
                  + ", ".join(f"seed {s} {v}" for s, v in e["verdict_by_seed"].items()) + ".",
                  "", "**Measured** (first seed).", ""]
        lines += [f"- {key}: {format_number(value) if not isinstance(value, str) else value}"
                  for key, value in e["details"].items()]
        lines += ["", "**Sensitivity** (the verdict under other reasonable protocol choices).",
                  ""]
        lines += [f"- {item['choice']}: {item['verdict']}" for item in e["sensitivity"]] or \
            ["- not analysed yet for this claim"]
        lines += ["", f"**What would flip it.** {what_would_flip(e)}"]
        lines += [""] + [f"![{e['id']}]({f})" for f in e["figures"] if f.endswith(".png")]
    atomic_write_text(path, "\n".join(lines) + "\n")

