"""Run directories and atomic writes.

Everything is written to a temporary file or directory first and renamed into place, so a
crash never leaves a half-written file and never touches the previous results.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import ValidationError

__all__ = ["cache_root", "atomic_write_text", "atomic_write_json", "write_table", "staged_directory",
           "manifest"]


def cache_root() -> Path:
    """Root of evsim's caches (sweep cells, standalone builds): $EVSIM_CACHE_DIR or
    ~/.cache/evsim."""
    return Path(os.environ.get("EVSIM_CACHE_DIR", Path.home() / ".cache" / "evsim"))


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename; the
    file gets the permissions of an ordinary new file (0666 less the umask), not mkstemp's
    0600, so a group can read results."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def atomic_write_json(path, data, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON, atomically: indented for people, or on one line (``indent``
    None: json's C encoder, ~10x faster on long lists of numbers)."""
    return atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=False) + "\n")


def write_table(path, frame) -> Path:
    """Write a pandas DataFrame as CSV, atomically."""
    return atomic_write_text(path, frame.to_csv(index=False))


@contextlib.contextmanager
def staged_directory(target):
    """Yield an empty temporary directory that replaces ``target`` only if the block succeeds.

    A second writer of the same ``target`` is refused while the first holds its lock. If the
    block raises, ``target`` (the previous results, if any) is left exactly as it was.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ValidationError("out", f"another evsim run is writing '{target}'; wait for it or "
                                     "choose another --out directory") from None
    try:
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.staging-"))
        os.chmod(staging, 0o777 & ~_umask())  # an ordinary directory, not mkdtemp's 0700
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        if target.exists():
            os.replace(target, previous)
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        lock.release()


def _git(*arguments: str) -> str | None:
    """Output of a git command run in evsim's checkout (None outside one)."""
    try:
        result = subprocess.run(["git", *arguments], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def manifest(**extra) -> dict:
    """Versions of evsim, brian2, numpy and Python, the platform, the git commit and whether the
    checkout had uncommitted changes, plus ``extra``."""
    import brian2
    import numpy

    from . import __version__

    return {"evsim": __version__, "brian2": brian2.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": _git("rev-parse", "HEAD") or None,
            "git_dirty": _dirty(), **extra}


def _dirty() -> bool | None:
    """Whether tracked files differ from the commit (None outside a checkout)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)
