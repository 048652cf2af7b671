"""report.html (self-contained, summary figure first, every figure embedded, verdicts coloured,
text escaped), report.md (verdict summary, valid table, basis, scope, rule history and
registration) and the LaTeX verdict table of `evsim report RUN_DIR --latex`."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest
from typer.testing import CliRunner

from analyses.report import write_report
from analyses.report_pages import VERDICT_COLOURS, html_report, latex_table, write_pages
from analyses.verify import verify
from evsim.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages") / "run"
    verify(out, scale="toy", only=["deff.range", "a2os2a.capacity"], progress=False,
           cache_dir=out.parent / "cache")
    return out


def test_verify_writes_a_self_contained_page_with_every_figure(run_dir):
    page = (run_dir / "report.html").read_text()
    claims = json.loads((run_dir / "claims.json").read_text())["claims"]
    pngs = [f for c in claims for f in c["figures"] if f.endswith(".png")]
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(pngs) > 0
    assert [base64.b64decode(data) for data in embedded] == \
        [(run_dir / name).read_bytes() for name in ["figures/summary.png", *pngs]]
    # nothing to fetch: no external sources or stylesheets, only in-page anchors
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    for claim in claims:
        assert f'id="{claim["id"]}"' in page
        assert f'class="verdict v-{claim["verdict"]}"' in page
    # the summary line first, then the summary figure, then the verdict table, then sections
    assert (page.index('class="summary"') < page.index("<figure") < page.index('class="verdicts"')
            < page.index("<section"))
    # a fixed layout with one width per column, which sum to the page's width
    widths = re.findall(r'<col style="width: (\d+)%">', page)
    assert len(widths) == page.split('class="verdicts"')[1].split("</tr>")[0].count("<th>") == 8
    assert sum(map(int, widths)) == 100
    assert all(f".v-{name}" in page for name in VERDICT_COLOURS)


def test_claim_text_is_escaped(run_dir, tmp_path):
    data = json.loads((run_dir / "claims.json").read_text())
    data["claims"][0]["statement"] = "a < b & <script>alert(1)</script>"
    for claim in data["claims"]:
        claim["figures"] = []
    (tmp_path / "claims.json").write_text(json.dumps(data))
    page = html_report(tmp_path)
    assert "<script>" not in page and "a &lt; b &amp; &lt;script&gt;" in page


def test_latex_table_escapes_and_has_one_row_per_claim(run_dir, tmp_path):
    data = json.loads((run_dir / "claims.json").read_text())
    data["claims"][0]["statement"] = "50% of x_1 & y #2"
    (tmp_path / "claims.json").write_text(json.dumps(data))
    table = latex_table(tmp_path)
    assert r"50\% of x\_1 \& y \#2" in table
    body = table.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == len(data["claims"])
    assert table.startswith(r"\begin{tabular}") and table.rstrip().endswith(r"\end{tabular}")


def test_evsim_report_writes_the_page_and_the_table(run_dir):
    (run_dir / "report.html").unlink()
    done = runner.invoke(app, ["report", str(run_dir), "--latex"])
    assert done.exit_code == 0, done.output
    assert (run_dir / "report.html").stat().st_size > 1000
    assert r"\toprule" in (run_dir / "verdicts.tex").read_text()


def test_evsim_report_on_a_folder_without_claims_is_one_clear_error(tmp_path):
    done = runner.invoke(app, ["report", str(tmp_path)])
    assert done.exit_code == 2
    assert "RUN_DIR" in done.output and "claims.json" in done.output
    assert "Traceback" not in done.output


@pytest.mark.slow
def test_report_html_renders_in_headless_chromium(run_dir, chromium):
    """The page loads from disk in Chromium (Debian's chromium package) with no console
    message and no failed load, and renders to a non-blank screenshot."""
    from matplotlib.image import imread

    log, shot = chromium(run_dir / "report.html")
    assert "CONSOLE" not in log and "ERR_FILE_NOT_FOUND" not in log
    assert imread(shot).std() > 0.05  # not a blank page


# synthetic claims.json with the basis, scope and rule fields (and an older run's entry without)
CHANGED = "rule changed since registration: not yet registered"
MANIFEST = dict(evsim="0.1", brian2="2.7", target="numpy", seed=1, seeds=[1], scale="toy",
                git_commit="abc1234")


def _entry(claim_id, **fields):
    entry = dict(id=claim_id, source="paper, Sec. 1", statement=f"statement of {claim_id}",
                 protocol="measure x; supported if x < 1", expected=1.0, estimate=0.8,
                 ci95=[0.7, 0.9], verdict="supported", verdict_by_seed={"1": "supported"},
                 estimate_by_seed={"1": 0.8}, seeds_agreeing="1 of 1 seeds give supported",
                 target="numpy", sensitivity=[{"choice": "x < 2", "verdict": "supported"}],
                 figures=[], details={"x": 0.8}, decided_by="measured",
                 scope=f"the circuit of {claim_id} with LIF neurons", basis="the measured x",
                 ci_leaves_out=["network initialisation"], rule_history=[],
                 rule_registration={"status": "registered", "fingerprint": "f00d",
                                    "registered": "f00d"})
    return entry | fields


ENTRIES = [
    _entry("info.pipe", statement="H(X|Y) <= H(X) for |states| = 3", decided_by="derived",
           scope="codes with |states| <= 3",
           rule_history=[{"rule": "x < 0.5", "replaced_in": "1a2b3c4", "changed_after_data": True,
                          "verdict_today": "refuted", "note": ""},
                         {"rule": "ratio test", "replaced_in": "5d6e7f8",
                          "changed_after_data": False, "verdict_today": None,
                          "note": "today's tables lack the ratio"}]),
    _entry("energy.null", estimate=None, ci95=None, verdict="not-testable", decided_by="fixed",
           ci_leaves_out=[]),
    _entry("design.changed", verdict="refuted",
           rule_registration={"status": "changed", "fingerprint": "beef", "registered": "f00d"}),
    {key: value for key, value in _entry("old.run").items()
     if key not in ("decided_by", "scope", "basis", "ci_leaves_out", "rule_history",
                    "rule_registration")},
]


@pytest.fixture
def synthetic_run(tmp_path):
    """A run directory with ENTRIES in claims.json, report.md and (write_pages) report.html."""
    (tmp_path / "claims.json").write_text(json.dumps({"claims": ENTRIES, "manifest": MANIFEST}))
    write_report(tmp_path / "report.md", ENTRIES, MANIFEST, [])
    write_pages(tmp_path, latex=True)
    return tmp_path


def _md_table(report: str) -> list[list[str]]:
    """The cells of report.md's verdict table (split at unescaped "|")."""
    block = report[report.index("\n| claim |") + 1:].split("\n\n", 1)[0]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in block.splitlines()]


def test_md_table_has_decided_by_and_scope_and_stays_valid_with_pipes(synthetic_run):
    report = (synthetic_run / "report.md").read_text()
    header, rule, *rows = _md_table(report)
    assert "decided by" in header and "scope" in header
    assert len(rule) == len(header) and all(len(row) == len(header) for row in rows)
    assert len(rows) == len(ENTRIES)
    decided, scope = header.index("decided by"), header.index("scope")
    for row, entry in zip(rows, ENTRIES):
        assert row[decided] == entry.get("decided_by", "-")
        assert row[scope] == entry.get("scope", "-").replace("|", r"\|")
    assert r"H(X\|Y) <= H(X) for \|states\| = 3" in rows[0]
    assert "4 claims: 2 supported, 1 refuted, 0 partial, 1 not-testable; decided by: " \
        "1 measured, 1 derived, 1 fixed, 1 unknown" in report


def test_md_sections_give_basis_scope_ci_gaps_and_rule_history(synthetic_run):
    report = (synthetic_run / "report.md").read_text()
    sections = dict(zip([e["id"] for e in ENTRIES], report.split("\n## ")[1:]))
    pipe = sections["info.pipe"]
    assert "**Decided by.** derived: the measured x" in pipe
    assert "**Scope.** codes with |states| <= 3" in pipe
    assert "**CIs leave out.** network initialisation" in pipe
    assert "| x < 0.5 | 1a2b3c4 | yes | refuted |" in pipe
    assert "| ratio test | 5d6e7f8 | no | not recomputed: today's tables lack the ratio |" in pipe
    assert "**Rule history.** none (the rule has not been revised)" in sections["energy.null"]
    assert "**CIs leave out.** nothing listed" in sections["energy.null"]
    assert sections["design.changed"].startswith(f"`design.changed`: refuted ({CHANGED})")
    assert CHANGED not in sections["info.pipe"]
    old = sections["old.run"]
    assert "**Decided by.** -\n" in old and "**Scope.** -" in old
    assert "**Rule registration.** -" in old


def test_md_table_flags_a_changed_registration(synthetic_run):
    rows = _md_table((synthetic_run / "report.md").read_text())[2:]
    assert [CHANGED in " ".join(row) for row in rows] == [False, False, True, False]


def test_html_opens_with_the_summary_figure_and_shows_basis_scope_and_flags(synthetic_run):
    page = (synthetic_run / "report.html").read_text()
    summary = (synthetic_run / "figures" / "summary.png").read_bytes()
    first_image = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(first_image.group(1)) == summary
    verdicts = page.index('<table class="verdicts">')
    assert first_image.start() < verdicts < page.index("<section")
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    table = page[verdicts:page.index("</table>", verdicts)]
    assert "<th>decided by</th>" in table and "<th>scope</th>" in table
    for entry in ENTRIES:
        assert f'<span class="label">{entry.get("decided_by", "-")}</span>' in table
        assert html.escape(entry.get("scope", "-")) in table
    assert table.count(CHANGED) == 1 and CHANGED in page[page.index('id="design.changed"'):]
    assert "4 claims: 2 supported" in page and "<i>measured</i>" in page
    section = page[page.index('id="info.pipe"'):page.index('id="energy.null"')]
    assert "not recomputed: today&#x27;s tables lack the ratio" in section
    assert "network initialisation" in section and "codes with |states| &lt;= 3" in section


def test_latex_table_has_a_decided_by_column(synthetic_run):
    table = (synthetic_run / "verdicts.tex").read_text()
    assert "verdict & decided by & seeds" in table
    body = table.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert [row.split(" & ")[5] for row in body] == ["derived", "fixed", "measured", "-"]
    assert r"H(X\textbar{}Y) \textless{}= H(X)" in body[0]  # not OT1's dash and inverted !


def test_evsim_report_on_an_older_run_without_the_new_fields(tmp_path):
    old = [{key: value for key, value in entry.items() if key in ENTRIES[3]}
           for entry in ENTRIES]
    (tmp_path / "claims.json").write_text(json.dumps({"claims": old, "manifest": MANIFEST}))
    done = runner.invoke(app, ["report", str(tmp_path), "--latex"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "figures" / "summary.png").is_file()
    assert "decided by: 0 measured, 0 derived, 0 fixed, 4 unknown" in (tmp_path / "report.html").read_text()


def test_reports_open_with_the_caveat_and_show_measured_values_without_float_noise(tmp_path):
    from analyses.report import CAVEAT

    import numpy as np

    from analyses.report import jsonable

    entry = _entry("noise.claim", details={  # as a claim returns them: numpy types included
        "slope": np.float64(0.123456789012), "pairs": np.array([0.1 + 0.2, 1 / 3]),
        "held": np.bool_(True), "count": np.int64(7),
        "rows": [{"n": 4, "error": 0.0123456789}, {"n": 8, "error": 0.00987654321}]})
    (tmp_path / "claims.json").write_text(json.dumps(jsonable({"claims": [entry],
                                                               "manifest": MANIFEST})))
    write_report(tmp_path / "report.md", [entry], MANIFEST, [])
    write_pages(tmp_path)
    markdown, page = ((tmp_path / name).read_text() for name in ("report.md", "report.html"))
    assert CAVEAT in markdown and CAVEAT.replace("'", "&#x27;") in page
    assert "0.30000000000000004" not in markdown + page and "0.3333333" not in markdown + page
    assert "slope: 0.1235" in markdown and "[0.3, 0.3333]" in markdown
    assert "held: true" in markdown and "count: 7" in markdown
    assert "<th>n</th><th>error</th>" in page and "<td>0.01235</td>" in page  # records: a table


def test_report_files_are_group_readable_and_figures_keep_their_width(synthetic_run):
    import os
    import stat

    for name in ("claims.json", "report.md", "report.html"):
        mode = stat.S_IMODE(os.stat(synthetic_run / name).st_mode)
        assert mode & stat.S_IRGRP, f"{name}: mode {oct(mode)}"
    page = (synthetic_run / "report.html").read_text()
    widths = [int(w) for w in re.findall(r'<img alt="summary" width="(\d+)"', page)]
    assert widths and 400 < widths[0] <= 1100  # a double-column figure at 1.5x print size
