"""claims.json and report.md from measured claim results."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from evsim.errors import ValidationError
from evsim.store import atomic_write_json, atomic_write_text

__all__ = ["DECIDED_BY", "VERDICTS", "jsonable", "write_claims_json", "write_report",
           "what_would_flip", "format_number", "field", "verdict_summary", "registration_flag",
           "registration_text", "ci_leaves_out", "rule_history_rows", "RULE_HISTORY_HEADER",
           "NO_RULE_HISTORY", "README_START", "README_END", "estimate_text", "verdict_table",
           "with_verdict_table", "results_page", "CAVEAT", "rounded"]


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


#: what can decide a verdict (claims.json "decided_by"), as explained under the verdict table
DECIDED_BY = {"measured": "data the protocol could not fix decide the verdict, and the rule can "
                          "reach both supported and refuted",
              "derived": "arithmetic or analysis known before the run decides it; the "
                         "simulation confirms it",
              "fixed": "a protocol constant or a handed-in quantity sets it"}
#: the verdicts in report order (analyses.claims.base.VERDICTS: not imported, so that reports
#: of stored runs need no claim module)
VERDICTS = ("supported", "refuted", "partial", "not-testable")


def field(entry: dict, key: str) -> str:
    """A text field of a claims.json entry, "-" where an older run lacks it or it is empty."""
    return str(entry.get(key) or "-")


def verdict_summary(entries: list[dict]) -> str:
    """One line: the claims counted by verdict and by what decided them."""
    def counts(key, known):
        tally = Counter(entry.get(key) or "unknown" for entry in entries)
        return ", ".join(f"{tally[name]} {name}"
                         for name in [*known, *sorted(set(tally) - set(known))])

    return (f"{len(entries)} claim{'' if len(entries) == 1 else 's'}: "
            f"{counts('verdict', VERDICTS)}; decided by: {counts('decided_by', DECIDED_BY)}")


def registration_flag(entry: dict) -> str | None:
    """The warning for a verdict not decided by the registered rule (None if it was, or if an
    older run does not say)."""
    status = (entry.get("rule_registration") or {}).get("status")
    return {"changed": "rule changed since registration: not yet registered",
            "unregistered": "rule not registered"}.get(status)


def registration_text(entry: dict) -> str:
    """The rule's registration status with its fingerprints, "-" if the entry lacks it."""
    registration = entry.get("rule_registration")
    if not registration:
        return "-"
    return (f"{registration_flag(entry) or registration.get('status', '-')} (rule fingerprint "
            f"{registration.get('fingerprint') or '-'}, registered fingerprint "
            f"{registration.get('registered') or '-'})")


def ci_leaves_out(entry: dict) -> str:
    """The variance sources no CI of the claim includes, as text."""
    if "ci_leaves_out" not in entry:
        return "-"
    return "; ".join(entry["ci_leaves_out"]) or "nothing listed"


def rule_history_rows(entry: dict) -> list[tuple[str, str, str, str]]:
    """(earlier rule, replaced in, changed after data, verdict on today's data) per earlier
    rule of the claim; the last is "not recomputed: why" where today's data cannot answer."""
    rows = []
    for item in entry.get("rule_history") or []:
        note, verdict = item.get("note") or "", item.get("verdict_today")
        today = (f"{verdict} ({note})" if note else verdict) if verdict else \
            f"not recomputed: {note or 'no reason given'}"
        rows.append((item.get("rule", "-"), item.get("replaced_in", "-"),
                     "yes" if item.get("changed_after_data") else "no", today))
    return rows


RULE_HISTORY_HEADER = ("earlier rule", "replaced in", "changed after data",
                       "verdict on today's data")
NO_RULE_HISTORY = "none (the rule has not been revised)"


def _cell(value) -> str:
    """Text for one markdown table cell: "|" escaped and line breaks removed."""
    return str(value).replace("|", r"\|").replace("\n", " ")


def _row(cells) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


#: the first thing a report says: what its verdicts are about
CAVEAT = ("The verdicts test evsim's own reconstructions of the claims (circuits, codes and "
          "models built here from the papers' descriptions); the papers' circuits, proofs and "
          "hardware are not available.")


def rounded(value):
    """``value`` (plain JSON types: see :func:`jsonable`) with every float rounded to 4
    significant digits, through lists and dicts (for showing measured values without float
    noise)."""
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def write_report(path, entries: list[dict], manifest: dict, not_run: list[str]) -> None:
    """report.md: a verdict summary and a table of every claim, then one section per claim with
    its basis, scope, rule (history and registration) and figures."""
    header = ("claim", "statement", "source", "expected", "estimate", "95% CI", "verdict",
              "decided by", "scope", "seeds", "ran on", "figure")
    lines = ["# evsim verification report", "",
             f"evsim {manifest['evsim']}, brian2 {manifest['brian2']}, target "
             f"`{manifest['target']}`, seeds "
             f"{', '.join(str(s) for s in manifest.get('seeds', [manifest['seed']]))}, "
             f"{manifest['scale']} run, git "
             f"{manifest['git_commit']}"
             f"{' with uncommitted changes' if manifest.get('git_dirty') else ''}.", "",
             f"*{CAVEAT}*", "",
             f"**{verdict_summary(entries)}**", "", _row(header), _row(["---"] * len(header))]
    for e in entries:
        figure = next((f for f in e["figures"] if f.endswith(".pdf")), None)
        flag = registration_flag(e)
        lines.append(_row([f"`{e['id']}`", e["statement"], e["source"],
                           format_number(e["expected"]), format_number(e["estimate"]),
                           format_number(e["ci95"]),
                           f"**{e['verdict']}**" + (f" ({flag})" if flag else ""),
                           field(e, "decided_by"), field(e, "scope"), e["seeds_agreeing"],
                           e["target"] or "-", f"[pdf]({figure})" if figure else "-"]))
    lines += ["", "*decided by*: " + "; ".join(f"*{name}*: {meaning}"
                                               for name, meaning in DECIDED_BY.items())
              + ". *estimate* is the claim's headline number; its section's protocol states "
                "what it measures. *95% CI* is its 95% confidence interval."]
    if not_run:
        lines += ["", "Claims not selected in this run: "
                  + ", ".join(f"`{c}`" for c in not_run) + "."]
    for e in entries:
        flag = registration_flag(e)
        history = rule_history_rows(e)
        lines += ["", f"## `{e['id']}`: {e['verdict']}" + (f" ({flag})" if flag else ""), "",
                  f"**Statement.** {e['statement']} ({e['source']})", "",
                  f"**Decided by.** {field(e, 'decided_by')}"
                  + (f": {e['basis']}" if e.get("basis") else ""), "",
                  f"**Scope.** {field(e, 'scope')}", "",
                  f"**Protocol and rule.** {e['protocol']}", "",
                  f"**Rule registration.** {registration_text(e)}", "",
                  "**Rule history.**" + ("" if history else f" {NO_RULE_HISTORY}")]
        if history:
            lines += ["", _row(RULE_HISTORY_HEADER), _row(["---"] * len(RULE_HISTORY_HEADER))]
            lines += [_row(row) for row in history]
        lines += ["", f"**Seeds.** {e['seeds_agreeing']}: "
                  + ", ".join(f"seed {s} {v}" for s, v in e["verdict_by_seed"].items()) + ".",
                  "", f"**CIs leave out.** {ci_leaves_out(e)}", "",
                  "**Measured** (first seed).", ""]
        lines += [f"- {key}: " + (value if isinstance(value, str)
                                  else json.dumps(rounded(jsonable(value))))
                  for key, value in e["details"].items()]
        lines += ["", "**Sensitivity** (the verdict under other reasonable protocol choices).",
                  ""]
        lines += [f"- {item['choice']}: {item['verdict']}" for item in e["sensitivity"]] or \
            ["- not analysed yet for this claim"]
        lines += ["", f"**What would flip it.** {what_would_flip(e)}"]
        lines += [""] + [f"![{e['id']}]({f})" for f in e["figures"] if f.endswith(".png")]
    atomic_write_text(path, "\n".join(lines) + "\n")


#: the README's verdict table lies between these lines (rewritten by `evsim report --readme`)
README_START, README_END = "<!-- verdicts: start -->", "<!-- verdicts: end -->"


def estimate_text(entry: dict) -> str:
    """The estimate with its 95% CI, 4 significant digits ("-" where there is none)."""
    ci = f" {format_number(entry['ci95'])}" if entry.get("ci95") else ""
    return format_number(entry.get("estimate")) + ci


def verdict_table(entries: list[dict], estimates: bool = False) -> str:
    """Markdown: the summary line, then one row per claim (id, what it claims, verdict, what
    decided it, and with ``estimates`` what was measured: the estimate with its 95% CI beside
    the paper's value)."""
    header = ["claim", "what is claimed", "verdict", "decided by"]
    header += ["estimate [95% CI]", "paper"] if estimates else []
    rows = [verdict_summary(entries) + ".", "", _row(header), "|---" * len(header) + "|"]
    for e in entries:
        cells = [f"`{e['id']}`", e["statement"], e["verdict"], field(e, "decided_by")]
        rows.append(_row(cells + ([estimate_text(e), field(e, "expected")] if estimates
                                  else [])))
    return "\n".join(rows)


def with_verdict_table(readme: str, entries: list[dict]) -> str:
    """``readme`` with the text between README_START and README_END replaced by
    :func:`verdict_table` of ``entries``."""
    if README_START not in readme or README_END not in readme:
        raise ValidationError("readme", f"the README has no '{README_START}' ... "
                                        f"'{README_END}' block to rewrite")
    head, rest = readme.split(README_START, 1)
    return f"{head}{README_START}\n{verdict_table(entries)}\n{README_END}{rest.split(README_END, 1)[1]}"


def results_page(claims_file) -> str:
    """The documentation's results page (markdown) from a run's claims.json: what the run was,
    the summary, then per claim its statement, verdict, basis, estimate, scope and what would
    flip the verdict."""
    data = json.loads(Path(claims_file).read_text())
    entries, manifest = data["claims"], data["manifest"]
    size = "quick" if manifest.get("quick") else "full"
    lines = ["# Results", "",
             f"The verdicts of one `evsim verify` run ({size} sizes, seed {manifest.get('seed')}, "
             f"evsim {manifest.get('evsim')}, commit {str(manifest.get('git_commit'))[:10]}), "
             "generated from its claims.json when the documentation is built. They test "
             "evsim's own reconstructions of the claims (circuits, codes and models built "
             "here), not the paper's circuits or proofs; [findings](findings.md) says what each "
             "family builds. The estimate of each claim is the quantity its rule judges, defined "
             "in its protocol (report.html).", "", verdict_table(entries, estimates=True), ""]
    for e in entries:
        lines += [f"## `{e['id']}`: {e['verdict']}", "", f"*{e['statement']}* ({e['source']})",
                  "", f"- decided by: {field(e, 'decided_by')}",
                  f"- estimate: {estimate_text(e)}",
                  f"- scope: {field(e, 'scope')}",
                  f"- the verdict would differ under: {what_would_flip(e)}", ""]
    return "\n".join(lines)
