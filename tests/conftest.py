import os
import shutil
import subprocess
import tempfile

import matplotlib
import pytest

matplotlib.use("Agg")


def pytest_configure(config):
    """Every cache (sweep cells, compiled builds) of a test session lives in a fresh folder."""
    folder = tempfile.mkdtemp(prefix="evsim-test-cache-")
    os.environ["EVSIM_CACHE_DIR"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.fixture
def seed():
    return 20261123


@pytest.fixture(params=["numpy", "nest", pytest.param("cython", marks=pytest.mark.slow),
                        pytest.param("cpp_standalone", marks=pytest.mark.slow)])
def lif_target(request):
    """Every backend that runs delta-LIF circuits, for physics that must hold on each: numpy
    and NEST (skipped where not installed) in the default run, the compiled ones in
    test-slow."""
    if request.param == "nest":
        pytest.importorskip("nest")
    return request.param


@pytest.fixture
def chromium(tmp_path):
    """render(page) -> (Chromium's log, console messages included; screenshot path): the
    page rendered headless by Debian's chromium; skips the test where it is not installed."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")

    def render(page):
        shot = tmp_path / "screenshot.png"
        done = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
             "--enable-logging=stderr", "--v=0", "--window-size=1280,2000",
             f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
            timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr, shot

    return render
