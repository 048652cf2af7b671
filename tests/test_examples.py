"""Every example script runs at its small size and writes what it promises."""

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
OUTPUTS = {"02_softmax_convergence.py": ["softmax_convergence.pdf"],
           "03_parameter_sweep.py": ["sweep.csv"],
           "04_attention_head_raster.py": ["attention_head_raster.pdf"],
           "05_paper_figure.py": ["paper_figure.pdf", "paper_figure.png"],
           "06_trained_model.py": ["trained_model_raster.pdf"]}


def test_there_are_at_least_five_examples():
    assert len(EXAMPLES) >= 5


#: examples whose small size still simulates for seconds (run in test-slow and by the docs build)
SLOW = {"02_softmax_convergence.py", "03_parameter_sweep.py", "04_attention_head_raster.py"}


@pytest.mark.parametrize("script", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW
                                    else p for p in EXAMPLES], ids=lambda p: p.name)
def test_example_runs_small(script, tmp_path):
    namespace = runpy.run_path(str(script))  # importable, with a main(out, small) entry
    namespace["main"](out=str(tmp_path), small=True)
    for name in OUTPUTS.get(script.name, []):
        assert (tmp_path / name).stat().st_size > (100 if name.endswith(".csv") else 1000)


def test_example_command_line(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES[0]), "--small", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "mean rate" in result.stdout
