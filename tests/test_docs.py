"""The documentation site: its sources stay complete (every module in the API reference,
every example a gallery page), and a slow test builds it with warnings as errors and opens it
in headless Chromium."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: claim families are documented by their protocols in report.md / report.html, not the API
CLAIM_FAMILIES = re.compile(r"analyses\.claims\.(?!base$|trained_runs$)\w+$")


def _modules() -> set[str]:
    names = set()
    for package in ("evsim", "circuits", "analyses", "analyses/claims"):
        for path in (ROOT / package).glob("*.py"):
            name = package.replace("/", ".") + ("" if path.stem == "__init__" else
                                                f".{path.stem}")
            if not CLAIM_FAMILIES.match(name) and name not in ("evsim", "circuits",
                                                              "analyses"):
                names.add(name)
    return names


def test_the_api_reference_lists_every_module():
    listed = set(re.findall(r"^   api/(\S+)$", (DOCS / "api.rst").read_text(), re.MULTILINE))
    assert _modules() - {"evsim.cli"} <= listed, sorted(_modules() - listed)
    for name in listed:
        importlib.import_module(name)


def test_every_example_opens_with_a_gallery_title():
    for path in sorted((ROOT / "examples").glob("[0-9][0-9]_*.py")):
        lines = path.read_text().splitlines()
        assert lines[0].startswith('"""') and set(lines[1]) == {"="}, path.name
        assert len(lines[1]) == len(lines[0]) - 3, f"{path.name}: underline length"


@pytest.mark.slow
def test_the_site_builds_without_warnings_and_renders(tmp_path, request):
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    out = tmp_path / "html"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    examples = sorted((ROOT / "examples").glob("[0-9][0-9]_*.py"))
    assert all((out / "auto_examples" / f"{p.stem}.html").is_file() for p in examples)
    assert "automodule" not in (out / "api.html").read_text()
    assert "evsim.simulate.simulate" in (out / "api" / "evsim.simulate.html").read_text()
    for page in out.rglob("*.html"):  # every image a page shows exists
        for src in re.findall(r'<img[^>]+src="([^"]+)"', page.read_text()):
            if not src.startswith(("data:", "http")):
                assert (page.parent / src).resolve().is_file(), f"{page.name}: {src}"
    render = request.getfixturevalue("chromium")  # skips here without chromium
    for page in ("index.html", "auto_examples/index.html", "api.html"):
        log, _ = render(out / page)
        assert "CONSOLE" not in log and "ERR_FILE_NOT_FOUND" not in log, page


def _python_blocks() -> list:
    """(file, number, code) of every ```python block in README.md and docs/*.md."""
    blocks = []
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for number, code in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(),
                                                 re.DOTALL)):
            # the README's in the default run; the docs' (seconds each) in test-slow
            blocks.append(pytest.param(code, id=f"{path.name}:{number}",
                                       marks=[] if path.name == "README.md"
                                       else [pytest.mark.slow]))
    return blocks


@pytest.mark.parametrize("code", _python_blocks())
def test_every_python_block_in_the_readme_and_docs_runs(code, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env={**__import__("os").environ,
                                                        "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_readme_is_a_landing_page_with_the_stored_runs_verdicts():
    import json

    from analyses.report import results_page, with_verdict_table

    readme = (ROOT / "README.md").read_text()
    stored = json.loads((DOCS / "results_claims.json").read_text())
    assert len(readme.splitlines()) <= 150
    assert with_verdict_table(readme, stored["claims"]) == readme, (
        "README's verdict table is stale: evsim report RUN_DIR --readme README.md")
    assert (DOCS / "results.md").read_text() == results_page(DOCS / "results_claims.json")
    assert len(stored["claims"]) == len(__import__("analyses.claims", fromlist=["x"])
                                        .all_claims())


def _command_lines() -> list:
    """Every evsim command line in a code block of README.md and docs/*.md or a literal block of
    docs/*.rst, comments cut."""
    lines = []
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for code in re.findall(r"```(?:bash)?\n(.*?)```", path.read_text(), re.DOTALL):
            for line in code.splitlines():
                line = line.split(" #")[0].strip()
                if re.match(r"(\.venv/bin/)?evsim ", line):
                    lines.append(pytest.param(line, id=f"{path.name}:{line[:40]}"))
    for path in sorted(DOCS.glob("*.rst")):  # literal blocks: indented lines
        for line in re.findall(r"^ +((?:\.venv/bin/)?evsim .*)$", path.read_text(), re.M):
            line = line.split(" #")[0].strip()
            lines.append(pytest.param(line, id=f"{path.name}:{line[:40]}"))
    return lines


@pytest.mark.parametrize("line", _command_lines())
def test_every_evsim_command_in_the_readme_and_docs_parses(line):
    """A concrete command parses (its subcommand, options and values are accepted); a synopsis
    line ([optional] parts, 'a | b' alternatives) names only options its subcommand has."""
    import shlex

    import typer

    from evsim.cli import app

    group = typer.main.get_command(app)
    for command in re.split(r" \| (?=evsim )", line):  # "evsim list | evsim info"
        words = shlex.split(command)[1:]
        sub = group.get_command(None, words[0])
        assert sub is not None, f"no subcommand {words[0]!r}: {line}"
        known = {name for param in sub.params for name in param.opts}
        if "[" in command:
            named = set(re.findall(r"--[\w-]+", command))
            assert named <= known, f"{sorted(named - known)} not options of {words[0]}: {line}"
        else:
            sub.make_context(words[0], words[1:])  # raises click's UsageError on a bad one
