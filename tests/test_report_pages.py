"""report.html (self-contained, every figure embedded, verdicts coloured, text escaped) and
the LaTeX verdict table of `evsim report RUN_DIR --latex`."""

from __future__ import annotations

import base64
import json
import re

import pytest
from typer.testing import CliRunner

from analyses.report_pages import VERDICT_COLOURS, html_report, latex_table
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
    assert len(embedded) == len(pngs) > 0
    assert [base64.b64decode(data) for data in embedded] == \
        [(run_dir / name).read_bytes() for name in pngs]
    # nothing to fetch: no external sources or stylesheets, only in-page anchors
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    for claim in claims:
        assert f'id="{claim["id"]}"' in page
        assert f'class="verdict v-{claim["verdict"]}"' in page
    assert page.index("<table>") < page.index("<section")  # the verdict table comes first
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
