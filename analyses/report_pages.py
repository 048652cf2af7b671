"""report.html (one self-contained page, figures embedded) and a LaTeX verdict table, both
from a run directory's claims.json and figures."""

from __future__ import annotations

import base64
import html
import json
import struct
from pathlib import Path

from evsim.errors import ValidationError
from evsim.store import atomic_write_text

from .report import (CAVEAT, DECIDED_BY, NO_RULE_HISTORY, RULE_HISTORY_HEADER, ci_leaves_out,
                     field, format_number, registration_flag, registration_text, rounded,
                     rule_history_rows, verdict_summary, what_would_flip)
from .summary_figure import plot_summary

__all__ = ["VERDICT_COLOURS", "html_report", "latex_table", "write_pages"]

#: background colour of each verdict (colour-blind-safe Okabe-Ito tints)
VERDICT_COLOURS = {"supported": "#cde9dc", "refuted": "#f6d5c3", "partial": "#fbeac0",
                   "not-testable": "#e3e3e3"}

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 76rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f2f2f2; }
.verdict { font-weight: 600; white-space: nowrap; }
pre { background: #f7f7f7; padding: 0.3rem; white-space: pre-wrap; word-break: break-word;
      font-size: 0.78rem; margin: 0; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5rem 0; }
figure { margin: 1rem 0; }
figcaption, .explain { font-size: 0.85rem; color: #444; }
.label { font-size: 0.75rem; border: 1px solid #999; border-radius: 0.6rem; padding: 0 0.35rem;
         white-space: nowrap; }
.flag { display: block; font-weight: 600; white-space: normal; color: #a33a00; }
section { border-top: 2px solid #ddd; margin-top: 2rem; }
.verdicts { table-layout: fixed; width: 100%; }
.summary { font-size: 1.1rem; }
""" + "".join(f".v-{name} {{ background: {colour}; }}\n"
              for name, colour in VERDICT_COLOURS.items())


def _e(value) -> str:
    return html.escape(str(value))


def _flag(entry: dict) -> str:
    """The registration warning of a claim as a visible inline flag ("" if registered)."""
    flag = registration_flag(entry)
    return f'<span class="flag">{_e(flag)}</span>' if flag else ""


def _verdict(verdict: str, flag: str = "") -> str:
    return f'<td class="verdict v-{_e(verdict)}">{_e(verdict)}{flag}</td>'


def _claim_name(claim_id: str) -> str:
    """A claim id that may break after its dots (bounds.spike_count.deterministic is wider
    than its column)."""
    return ".<wbr>".join(_e(part) for part in claim_id.split("."))


def _decided_by(entry: dict) -> str:
    return f'<span class="label">{_e(field(entry, "decided_by"))}</span>'


def _table(header, rows) -> str:
    """A table of escaped text: one header row, then ``rows``."""
    return ("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                      for row in rows) + "</table>")


#: CSS pixels per inch of a figure on the page: the figures' column widths (3.3 and 6.9 in)
#: at 1.5x print size, so a single-column figure is not stretched to the page's width
SCREEN_PX_PER_INCH = 144


def _image(path: Path) -> str:
    """An <img> with the PNG embedded as a data URI (the page needs no other file), shown at
    its natural width: its size in inches (savefig.dpi) at SCREEN_PX_PER_INCH."""
    png = path.read_bytes()
    width_px = struct.unpack(">I", png[16:20])[0]  # the IHDR chunk
    width = round(width_px / _dpi(png) * SCREEN_PX_PER_INCH)
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(path.stem)}" width="{width}" src="data:image/png;base64,{data}">'


def _dpi(png: bytes) -> float:
    """Dots per inch a PNG was saved at (its pHYs chunk; 300, evsim's savefig.dpi, without)."""
    at = png.find(b"pHYs")
    if at < 0 or png[at + 12] != 1:  # unit 1: pixels per metre
        return 300.0
    return struct.unpack(">I", png[at + 4:at + 8])[0] * 0.0254


def _value(value) -> str:
    """A measured value as HTML: a list of records as a table, other lists and dicts as
    compact JSON, numbers to 4 significant digits."""
    value = rounded(value)
    if (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
            and all(not isinstance(x, (dict, list)) for v in value for x in v.values())):
        columns = list(dict.fromkeys(k for v in value for k in v))
        return _table(columns, [[v.get(c, "") for c in columns] for v in value])
    if isinstance(value, (dict, list)):
        return f"<pre>{_e(json.dumps(value))}</pre>"
    return _e(value)


def _details(details: dict) -> str:
    rows = [f"<tr><th>{_e(key)}</th><td>{_value(value)}</td></tr>"
            for key, value in details.items()]
    return "<table>" + "".join(rows) + "</table>"


def _claim_section(entry: dict, run_dir: Path) -> str:
    sensitivity = "".join(f"<tr><td>{_e(item['choice'])}</td>{_verdict(item['verdict'])}</tr>"
                          for item in entry["sensitivity"])
    seeds = ", ".join(f"seed {_e(s)}: {_e(v)}" for s, v in entry["verdict_by_seed"].items())
    figures = "".join(_image(run_dir / name) for name in entry["figures"]
                      if name.endswith(".png"))
    history = rule_history_rows(entry)
    return (f'<section id="{_e(entry["id"])}"><h2><code>{_e(entry["id"])}</code>: '
            f'<span class="verdict v-{_e(entry["verdict"])}">{_e(entry["verdict"])}</span>'
            f"{_flag(entry)}</h2>"
            f"<p><b>Statement.</b> {_e(entry['statement'])} ({_e(entry['source'])})</p>"
            f"<p><b>Decided by</b> {_decided_by(entry)} {_e(entry.get('basis', ''))}</p>"
            f"<p><b>Scope.</b> {_e(field(entry, 'scope'))}</p>"
            f"<p><b>Protocol and rule.</b> {_e(entry['protocol'])}</p>"
            f"<p><b>Rule registration.</b> {_e(registration_text(entry))}</p>"
            f"<p><b>Rule history.</b>"
            + (f"</p>{_table(RULE_HISTORY_HEADER, history)}" if history else
               f" {_e(NO_RULE_HISTORY)}</p>")
            + f"<p><b>Estimate</b> {_e(format_number(entry['estimate']))}, 95% CI "
            f"{_e(format_number(entry['ci95']))}; <b>seeds</b> {_e(entry['seeds_agreeing'])} "
            f"({seeds}); ran on {_e(entry['target'] or '-')}.</p>"
            f"<p><b>CIs leave out.</b> {_e(ci_leaves_out(entry))}</p>"
            f"<h3>Measured (first seed)</h3>{_details(entry['details'])}"
            f"<h3>Sensitivity</h3><table><tr><th>other protocol choice</th><th>verdict</th>"
            f"</tr>{sensitivity}</table>"
            f"<p><b>What would flip it.</b> {_e(what_would_flip(entry))}</p>{figures}</section>")


#: what the verdict table's columns mean, shown under it
EXPLAIN = ("<b>decided by</b>: " + "; ".join(f"<i>{_e(name)}</i>: {_e(meaning)}"
                                            for name, meaning in DECIDED_BY.items())
           + ". <b>estimate</b> is the claim's headline number; its section's protocol states "
             "what it measures. <b>95% CI</b> is its 95% confidence interval (each section "
             "lists what the interval leaves out). <b>scope</b> is what the verdict covers.")
#: widths of the verdict table's columns (percent of the page), so it fits the page and the
#: long statement and scope texts get the room
VERDICT_COLUMNS = "<colgroup>" + "".join(f'<col style="width: {w}%">'
                                         for w in (17, 21, 8, 11, 9, 8, 18, 8)) + "</colgroup>"
SUMMARY_CAPTION = ("One row per claim, each on its own scale: the paper's value (vertical line) "
                   "and the estimate with its 95% CI; colour gives the verdict, marker shape "
                   "what decided it.")


def html_report(run_dir) -> str:
    """The page for a run directory: the summary figure (figures/summary.png, where written),
    the verdict table, then one section per claim."""
    run_dir = Path(run_dir)
    data = _load(run_dir)
    manifest, entries = data["manifest"], data["claims"]
    rows = "".join(f'<tr><td><a href="#{_e(e["id"])}"><code>{_claim_name(e["id"])}</code></a></td>'
                   f"<td>{_e(e['statement'])}</td><td>{_e(format_number(e['estimate']))}</td>"
                   f"<td>{_e(format_number(e['ci95']))}</td>{_verdict(e['verdict'], _flag(e))}"
                   f"<td>{_decided_by(e)}</td><td>{_e(field(e, 'scope'))}</td>"
                   f"<td>{_e(e['seeds_agreeing'])}</td></tr>" for e in entries)
    header = (f"evsim {_e(manifest['evsim'])}, brian2 {_e(manifest['brian2'])}, target "
              f"{_e(manifest['target'])}, {_e(manifest['scale'])} run, git "
              f"{_e(manifest['git_commit'])}"
              f"{' with uncommitted changes' if manifest.get('git_dirty') else ''}")
    summary = run_dir / "figures" / "summary.png"
    figure = (f"<figure>{_image(summary)}<figcaption>{_e(SUMMARY_CAPTION)}</figcaption></figure>"
              if summary.is_file() else "")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>evsim verification report</title><style>{STYLE}</style></head><body>"
            f"<h1>evsim verification report</h1><p>{header}</p>"
            f'<p class="summary"><b>{_e(verdict_summary(entries))}</b></p>'
            f"<p><i>{_e(CAVEAT)}</i></p>{figure}"
            f'<table class="verdicts">{VERDICT_COLUMNS}<tr><th>claim</th><th>statement</th>'
            f"<th>estimate</th><th>95% CI</th><th>verdict</th><th>decided by</th><th>scope</th>"
            f"<th>seeds</th></tr>{rows}</table>"
            f'<p class="explain">{EXPLAIN}</p>'
            + "".join(_claim_section(e, run_dir) for e in entries) + "</body></html>\n")


def _latex(text) -> str:
    """Text with LaTeX's special characters escaped."""
    replace = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
               "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
               "^": r"\textasciicircum{}", "|": r"\textbar{}", "<": r"\textless{}",
               ">": r"\textgreater{}"}
    return "".join(replace.get(c, c) for c in str(text))


def latex_table(run_dir) -> str:
    """The verdict table as a LaTeX tabular (booktabs): claim, statement, estimate, 95% CI,
    verdict, decided by, seeds agreeing."""
    entries = _load(Path(run_dir))["claims"]
    rows = [f"\\texttt{{{_latex(e['id'])}}} & {_latex(e['statement'])} & "
            f"{_latex(format_number(e['estimate']))} & {_latex(format_number(e['ci95']))} & "
            f"{_latex(e['verdict'])} & {_latex(field(e, 'decided_by'))} & "
            f"{_latex(e['seeds_agreeing'])} \\\\" for e in entries]
    return "\n".join([r"\begin{tabular}{l p{0.35\linewidth} l l l l l}", r"\toprule",
                      r"claim & statement & estimate & 95\% CI & verdict & decided by & seeds \\",
                      r"\midrule", *rows, r"\bottomrule", r"\end{tabular}"]) + "\n"


def _load(run_dir: Path) -> dict:
    claims_file = run_dir / "claims.json"
    if not claims_file.is_file():
        raise ValidationError("run_dir", f"RUN_DIR '{run_dir}' has no claims.json (not an evsim "
                                         "verify run)")
    return json.loads(claims_file.read_text())


def write_pages(run_dir, *, latex: bool = False) -> list[str]:
    """Write figures/summary.pdf and .png, report.html (and verdicts.tex with ``latex``) into
    ``run_dir``; returns the names."""
    run_dir = Path(run_dir)
    written = [f"figures/{name}"
               for name in plot_summary(_load(run_dir)["claims"], run_dir / "figures")]
    atomic_write_text(run_dir / "report.html", html_report(run_dir))
    written.append("report.html")
    if latex:
        atomic_write_text(run_dir / "verdicts.tex", latex_table(run_dir))
        written.append("verdicts.tex")
    return written
