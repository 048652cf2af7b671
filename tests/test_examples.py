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
           "06_trained_model.py": ["trained_model_raster.pdf"],
           "07_tutorial.py": ["tutorial_circuit.png", "tutorial_states.png",
                              "tutorial_raster_psth.png", "tutorial_sweep.png"]}
#: tutorials: narrative cells run top to bottom as a script (no main); run by the command line
TUTORIALS = {"07_tutorial.py"}


def test_there_are_at_least_five_examples():
    assert len(EXAMPLES) >= 5


#: examples whose small size still simulates for seconds (run in test-slow and by the docs build)
SLOW = {"02_softmax_convergence.py", "03_parameter_sweep.py", "04_attention_head_raster.py",
        "05_paper_figure.py"}


@pytest.mark.parametrize("script", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW
                                    else p for p in EXAMPLES if p.name not in TUTORIALS],
                         ids=lambda p: p.name)
def test_example_runs_small(script, tmp_path):
    namespace = runpy.run_path(str(script))  # importable, with a main(out, small) entry
    namespace["main"](out=str(tmp_path), small=True)
    for name in OUTPUTS.get(script.name, []):
        assert (tmp_path / name).stat().st_size > (100 if name.endswith(".csv") else 1000)


@pytest.mark.slow  # runs an example script end to end
def test_example_command_line(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES[0]), "--small", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "mean rate" in result.stdout


@pytest.mark.slow  # also run by the documentation build (make docs)
@pytest.mark.parametrize("name", sorted(TUTORIALS))
def test_tutorial_runs_small_and_reaches_a_verdict(name, tmp_path):
    script = EXAMPLES[0].parent / name
    result = subprocess.run([sys.executable, str(script), "--small", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert any(verdict in result.stdout for verdict in ("-> supported", "-> refuted",
                                                        "-> partial"))
    for output in OUTPUTS[name]:
        assert (tmp_path / output).stat().st_size > 1000
