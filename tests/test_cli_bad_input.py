"""Bad input on the command line: each case exits 2 with one exact line naming the problem.

(The Python API's bad-input table is tests/test_bad_input.py; together they cover > 40 cases.)
"""

import pytest
from typer.testing import CliRunner

from evsim.cli import app

runner = CliRunner()

CASES = [
    (["verify", "--only", "nope"],
     "error: unknown claim id 'nope'; accepted: ['lif.fi_curve', 'softmax.stochastic.rate'"),
    (["verify", "--only", ","], "error: --only must name at least one claim id (see `evsim list`)"),
    (["verify", "--target", "gpu"],
     "error: --target must be one of ('auto', 'numpy', 'cython', 'cpp_standalone', 'nest'), "
     "got 'gpu'"),
    (["run", "softmax", "--target", "gpu", "--set", "trials=2", "--set", "duration_s=0.01"],
     "error: parameter 'target' must be one of ('auto', 'numpy', 'cython', 'cpp_standalone', "
     "'nest'), got 'gpu'"),
    (["plot", "{tmp}/nothing"], "error: RUN_DIR '{tmp}/nothing' has no claims.json (not an "
                                "evsim verify run)"),
    (["run", "nope"], "error: unknown experiment 'nope'; accepted: ['attention_head', "
                      "'mechanism', 'softmax']"),
    (["run", "softmax", "--set", "n"], "error: --set must look like key=value, got 'n'"),
    (["run", "softmax", "--set", "nn=3"],
     "error: unknown parameter(s) ['nn'] for experiment 'softmax'; accepted: ['kind', 'n', "
     "'temperature', 'duration_s', 'trials', 'seed', 'target']"),
    (["run", "softmax", "--sweep", "{tmp}/missing.toml"],
     "error: --sweep file '{tmp}/missing.toml' does not exist"),
    (["run", "softmax", "--sweep", "{tmp}/broken.toml"],
     "error: --sweep file '{tmp}/broken.toml' is not valid TOML"),
    (["run", "softmax", "--sweep", "{tmp}/nogrid.toml"],
     "error: --sweep file '{tmp}/nogrid.toml' needs a non-empty [grid] table of lists"),
    (["run", "softmax", "--sweep", "{tmp}/scalar.toml"],
     "error: grid entry 'n' must be a non-empty list of values, got 'oops'"),
    (["run", "softmax", "--set", "kind=X"],
     "error: parameter 'kind' must be one of ('S', 'D'), got 'X'"),
    (["run", "softmax", "--set", "n=1"], "error: parameter 'n' must be >= 2, got 1"),
    (["run", "softmax", "--set", "n=-3"], "error: parameter 'n' must be >= 2, got -3"),
    (["run", "softmax", "--set", "trials=-1"], "error: parameter 'trials' must be >= 2, got -1"),
    (["run", "softmax", "--set", "seed=-1"],
     "error: parameter 'seed' must be >= 0 and < 2**32, got -1"),
    (["run", "softmax", "--set", "duration_s=0"],
     "error: parameter 'duration_s' must be finite and > 0, got 0"),
    (["run", "mechanism", "--set", "name=vit"],
     "error: parameter 'name' must be one of ('ssa', 'sdsa', 'qkta', 'dssa', 'a2os2a'), got 'vit'"),
    (["run", "softmax", "--sweep", "{tmp}/badcell.toml"],
     "error: parameter 'n' must be >= 2, got -1"),
    (["run", "softmax", "--set", "trials=2.5"],
     "error: parameter 'trials' of experiment 'softmax' must be int, got 2.5"),
    (["run", "softmax", "--set", 'duration_s="abc"'],
     "error: parameter 'duration_s' of experiment 'softmax' must be float, got 'abc'"),
    (["run", "softmax", "--set", "n=[1,2]"],
     "error: parameter 'n' of experiment 'softmax' must be int, got [1, 2]"),
    (["graph", "nope", "--out", "{tmp}/g.pdf"], "error: unknown circuit 'nope'; accepted: ["),
    (["graph", "single_lif", "--out", "{tmp}/g.txt"],
     "error: --out must end in .pdf or .png, got '{tmp}/g.txt'"),
    (["train", "vit"], "error: ARCH must be one of ('spikformer', 'qkformer', 'sdt', "
                       "'spikingresformer', 'all', 'grid'), got 'vit'"),
    (["train", "sdt", "--width", "48"],
     "error: --width must be one of (16, 32, 64) (the shipped widths), got 48"),
    (["train", "sdt", "--task", "imagenet"],
     "error: --task must be one of ('digits', 'sets', 'all'), got 'imagenet'"),
    (["train", "sdt", "--T", "8"], "error: --T must be 4 or 16 (the shipped training T), got 8"),
    (["import-nir", "{tmp}/none.nir"], "error: NIR file '{tmp}/none.nir' does not exist"),
    (["train", "grid", "--seed", "2"], "error: grid trains every cell of evsim.train.GRID: it "
                                       "takes no --task, --T, --width or --seed, got all, 4, 16, 2"),
    (["report", "{tmp}/nothing"], "error: RUN_DIR '{tmp}/nothing' has no claims.json (not an "
                                  "evsim verify run)"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_cli_bad_input_is_one_clear_line(args, message, tmp_path):
    (tmp_path / "broken.toml").write_text("grid = [\n")
    (tmp_path / "nogrid.toml").write_text("[fixed]\nn = 4\n")
    (tmp_path / "scalar.toml").write_text('[grid]\nn = "oops"\n')
    (tmp_path / "badcell.toml").write_text("[grid]\nn = [4, 8, -1]\n")
    args = [a.format(tmp=tmp_path) for a in args]
    if args[0] == "run":
        args += ["--out", str(tmp_path / "run"), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message.format(tmp=tmp_path)), result.output
    assert not (tmp_path / "run").exists()  # refused before any cell ran


def test_cli_rejects_out_of_range_options():
    for args in (["verify", "--workers", "0"], ["verify", "--seed", "-1"],
                 ["run", "softmax", "--workers", "0"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Invalid value" in result.output


def test_run_help_lists_every_experiments_parameters_and_brackets_survive():
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for expected in ("softmax: kind='S', n=8", "mechanism: name='sdsa'", "a [grid] of lists",
                     "optional [fixed] values"):
        assert expected in text, expected


def test_the_run_manifest_records_the_defaults_behind_the_results(tmp_path):
    import json

    result = runner.invoke(app, ["run", "mechanism", "--set", "tokens=4", "--set",
                                 "channels=4", "--set", "T=2", "--set", "trials=2", "--set",
                                 "target=numpy", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["defaults"]["heads"] == 2 and manifest["fixed"]["tokens"] == 4
