"""Atomic file output: nothing half-written is ever left behind.

Every file the package writes goes through here: the content is written to a
temporary file in the destination folder, then renamed over the destination.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from betavae_sym.errors import BadInput


def ensure_writable_dir(path: Path, what: str) -> Path:
    """Create ``path`` (and parents) if needed; raise BadInput if it cannot be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"{what}: '{path}' exists and is not a folder; choose another path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{what}: cannot create folder '{path}' ({exc.strerror}); choose a writable path") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BadInput(f"{what}: folder '{path}' is not writable; choose a writable path")
    return path


def check_writable_file(path: Path, parameter: str) -> None:
    """BadInput (naming ``parameter``) unless ``path`` can be written as a file.

    It must not be a folder, and its folder must exist and be writable or be
    creatable under a writable folder. Creates nothing (bad input leaves no trace).
    """
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"'{path}' is a folder; give a file path", parameter=parameter)
    _check_creatable(path.parent if str(path.parent) else Path("."), path, parameter)


def check_writable_folder(path: Path, parameter: str) -> None:
    """BadInput (naming ``parameter``) unless ``path`` is a writable folder or can be created as one under a
    writable folder. Creates nothing, unlike :func:`ensure_writable_dir`: for a folder written to later, if at all.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"'{path}' exists and is not a folder; choose another path", parameter=parameter)
    _check_creatable(path, path, parameter)


def _check_creatable(folder: Path, path: Path, parameter: str) -> None:
    """BadInput unless ``folder`` is writable, or its nearest existing ancestor is (so ``path`` can be made)."""
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise BadInput(f"'{ancestor}' is not a folder, so '{path}' cannot be created; choose another path",
                       parameter=parameter)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise BadInput(f"folder '{ancestor}' is not writable; choose a writable path", parameter=parameter)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    atomic_write_files({path: data})


def atomic_write_files(contents: dict[Path, bytes]) -> None:
    """Write several files together: every temporary file first, then the renames.

    A failure while writing (a full disk, say) leaves none of them changed and
    no temporary file behind: a model's ``.npz`` is not written without its
    ``.json`` sidecar. The renames, last, do not fail in a writable folder.
    """
    written: dict[Path, str] = {}
    try:
        for path, data in contents.items():
            path = Path(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            written[path] = tmp
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        for path, tmp in written.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in written.values():
            Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
