"""Running the command line on input it must refuse: the shared harness of the bad-input tests.

:func:`refusal` runs ``betavae_sym.cli.main`` in-process, in a fresh working
folder laid out by :func:`lay_out_workspace`, and returns what a user would
see: exit status, standard error, warnings, an escaped exception, and the
files that appeared. :func:`assert_refused` states the contract of issue 15:
exit 2, exactly one line on standard error, no traceback, no warning, no new
file, and no long computation (a case still running after ``seconds`` is
stopped and reported).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from betavae_sym.cli import main

#: Files and folders every case finds in its working folder. Folders are named like the files the options
#: expect (``folder.png``), so that an output path passes every other check and meets only "is a folder".
FOLDERS = ("folder", "folder.png", "folder.svg", "folder.json", "folder.csv", "folder.npy", "folder.npz",
           "folder.db")


def lay_out_workspace(root: Path, store: Path | None = None) -> None:
    """Create the fixed contents of a case's working folder under ``root``.

    ``file.txt`` is a regular file, so no path below it can be created; ``empty.*`` are empty files;
    ``garbage.*`` hold text that is no matrix, no image and no SQLite store; ``store.db`` is a copy of
    ``store`` (a valid results store) when given.
    """
    for name in FOLDERS:
        (root / name).mkdir()
    (root / "file.txt").write_text("a regular file\n")
    for suffix in (".csv", ".npy", ".db", ".npz"):
        (root / f"empty{suffix}").write_bytes(b"")
        (root / f"garbage{suffix}").write_text("this is not what the option expects\n")
    np.save(root / "string.npy", np.array(["a", "b"]))
    if store is not None:
        shutil.copyfile(store, root / "store.db")


def unwritable_folder() -> str | None:
    """An existing folder this process cannot write into, or None (root writes everywhere but /proc/self)."""
    for candidate in ("/proc/self",):
        if os.path.isdir(candidate) and not os.access(candidate, os.W_OK):
            return candidate
    return None


class TookTooLong(Exception):
    """A case that should have been refused at once was still running (it had started computing)."""


@dataclass
class Refusal:
    """What one run of the command line showed."""

    argv: list
    status: int | None
    stderr: str
    stdout: str
    warnings: list
    exception: str | None
    new_paths: list = field(default_factory=list)

    def problems(self) -> list[str]:
        """How this run breaks the contract (empty when it does not)."""
        found = []
        if self.exception is not None:
            found.append(f"raised instead of exiting:\n{self.exception}")
        if self.status != 2:
            found.append(f"exit status {self.status}, not 2")
        lines = self.stderr.splitlines()
        if len(lines) != 1:
            found.append(f"{len(lines)} lines on standard error, not 1")
        if "Traceback" in self.stderr:
            found.append("a traceback on standard error")
        if self.warnings:
            found.append(f"warnings: {self.warnings}")
        if self.new_paths:
            found.append(f"new files: {self.new_paths}")
        return found


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def refusal(argv: list, workdir: Path, *, seconds: float = 30.0) -> Refusal:
    """Run ``betavae-sym argv`` in-process with ``workdir`` as the working folder; see :class:`Refusal`."""
    before = _tree(workdir)
    stderr, stdout = io.StringIO(), io.StringIO()
    status, exception = None, None

    def stop(signum, frame):
        raise TookTooLong(f"still running after {seconds} s")

    previous_handler = signal.signal(signal.SIGALRM, stop)
    previous_cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            warnings.simplefilter("always")
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                status = main([str(part) for part in argv])
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - an escaped exception is the finding
                exception = traceback.format_exc(limit=-4)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        os.chdir(previous_cwd)
        signal.signal(signal.SIGALRM, previous_handler)
    return Refusal(argv=list(argv), status=status, stderr=stderr.getvalue(), stdout=stdout.getvalue(),
                   warnings=[f"{w.category.__name__}: {w.message}" for w in caught], exception=exception,
                   new_paths=sorted(_tree(workdir) - before))


def assert_refused(argv: list, workdir: Path, **kwargs) -> Refusal:
    """Run ``argv`` (see :func:`refusal`) and fail with everything it showed unless it kept the contract."""
    run = refusal(argv, workdir, **kwargs)
    problems = run.problems()
    assert not problems, (f"betavae-sym {' '.join(map(str, argv))}\n  " + "\n  ".join(problems)
                          + f"\n  stderr: {run.stderr!r}")
    return run
