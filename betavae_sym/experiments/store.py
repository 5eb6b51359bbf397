"""The results store of a sweep: one SQLite file (stdlib ``sqlite3``).

Schema (version 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)
        schema_version, settings_hash, settings (canonical JSON), created_by (software version), created_at
    tasks(task_id TEXT PRIMARY KEY, beta REAL, realization INTEGER, seed TEXT, settings_hash TEXT,
          status TEXT ('done' | 'diverged'), message TEXT, metrics TEXT (JSON), final_loss REAL,
          train_seconds REAL, eval_seconds REAL, finished_at REAL (Unix time), version TEXT, host TEXT,
          params BLOB (.npz of the trained parameters, realization 0 only))
    claims(task_id TEXT PRIMARY KEY, owner TEXT, expires_at REAL (Unix time), claimed_at REAL)

``claims`` holds the leases of the tasks being trained now (see :meth:`Store.claim`):
a process that runs a task claims it first, renews the lease while it trains,
and deletes the claim with the result; the claim of a process that died
expires, and another process then runs the task. The table was added after
schema 1 was first written; a read-write :class:`Store` creates it in an older
store (readers never need it), so the schema version stays 1.

The file carries ``PRAGMA application_id`` = :data:`APPLICATION_ID`, so a
foreign SQLite file is recognised. A store is created whole (in a temporary
file, then linked to its name, never replacing one another process made); each finished task is one transaction. An existing file
is validated through a read-only connection before anything is written: a
corrupt or foreign file, another schema, a store made before held-out evaluation (its settings
have no ``metrics.heldout``) or other settings raise
:class:`~betavae_sym.errors.BadInput` and leave it untouched.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from betavae_sym.errors import BadInput

SCHEMA_VERSION = 1
#: Sections of the settings document of every store (see ``experiments.tasks``).
SETTINGS_SECTIONS = ("dataset", "training", "metrics")
#: ``PRAGMA application_id`` of a betavae-sym store ("bVAE" in ASCII).
APPLICATION_ID = 0x62564145

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY, beta REAL NOT NULL, realization INTEGER NOT NULL, seed TEXT NOT NULL,
    settings_hash TEXT NOT NULL, status TEXT NOT NULL, message TEXT, metrics TEXT, final_loss REAL,
    train_seconds REAL, eval_seconds REAL, finished_at REAL NOT NULL, version TEXT NOT NULL, host TEXT,
    params BLOB
);
CREATE INDEX tasks_beta ON tasks (beta, realization);
"""

_CLAIMS = """CREATE TABLE IF NOT EXISTS claims (
    task_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL, claimed_at REAL NOT NULL
)"""


def read_meta(path: Path) -> dict:
    """Validate the store at ``path`` read-only and return its ``meta`` (settings decoded).

    Raises BadInput (naming the file and what is wrong) for a missing, corrupt
    or foreign file, or another schema version.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"--store: '{path}' does not exist or is not a file; run 'betavae-sym simulate' first")
    try:
        # read-only; a hot journal left by a killed writer needs a read-write open to roll back
        uri = f"{path.resolve().as_uri()}?mode=ro"
        journal = path.with_name(path.name + "-journal")
        connection = sqlite3.connect(path if journal.exists() else uri, uri=not journal.exists())
        try:
            app_id = connection.execute("PRAGMA application_id").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise BadInput(f"--store: '{path}' is an SQLite file but not a betavae-sym results store; "
                               "choose another path")
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"--store: '{path}' is not a readable betavae-sym results store ({exc}); "
                       "choose another path") from None
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise BadInput(f"--store: '{path}' has schema version {meta.get('schema_version')!r}, this software "
                       f"reads {SCHEMA_VERSION}; use a new store")
    for key in ("settings_hash", "settings"):
        if key not in meta:
            raise BadInput(f"'{path}' has no {key!r} in its meta table: the store is damaged; use another store",
                           parameter="store")
    try:
        settings = json.loads(meta["settings"])
    except ValueError as exc:
        raise BadInput(f"'{path}': the 'settings' row of its meta table is not valid JSON ({exc}): the store is "
                       "damaged; use another store", parameter="store") from None
    if not (isinstance(settings, dict) and all(isinstance(settings.get(section), dict) for section in SETTINGS_SECTIONS)
            and isinstance(settings["dataset"].get("dataset"), str)):
        raise BadInput(f"'{path}': the 'settings' row of its meta table is not a settings document (sections "
                       f"{', '.join(SETTINGS_SECTIONS)}): the store is damaged; use another store", parameter="store")
    if "heldout" not in settings["metrics"]:
        raise BadInput(f"--store: '{path}' was made before held-out evaluation existed: its networks were scored on "
                       "their training rows only, while this version scores every network on held-out rows and on "
                       "its training rows (metrics.heldout); the two cannot be mixed: use a new --store")
    meta["settings"] = settings
    return meta


def check_settings(path: Path, meta: dict, settings: dict, settings_hash: str) -> None:
    """BadInput when the store was made with other settings, naming the settings that differ."""
    if meta["settings_hash"] == settings_hash:
        return
    theirs = meta["settings"]
    differences = [f"{section}.{key}: store {theirs.get(section, {}).get(key)!r}, now {settings.get(section, {}).get(key)!r}"
                   for section in sorted(set(theirs) | set(settings))
                   for key in sorted(set(theirs.get(section, {})) | set(settings.get(section, {})))
                   if theirs.get(section, {}).get(key) != settings.get(section, {}).get(key)]
    raise BadInput(f"--store: '{path}' holds results made with other settings ({'; '.join(differences[:4]) or 'hash differs'}"
                   f"{'; ...' if len(differences) > 4 else ''}); use another --store or the store's settings")


def create_store(path: Path, settings: dict, settings_hash: str, version: str) -> bool:
    """Create an empty store at ``path`` atomically, unless a file is there already; True when this call made it.

    The store is written whole to a temporary file in the same folder, then
    linked to ``path``, which fails if another process created the store
    meanwhile (two ``simulate`` runs starting on the same new store): that
    store is kept, and the caller validates it like any existing one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        connection = sqlite3.connect(tmp)
        try:
            connection.executescript(_SCHEMA)
            connection.execute(_CLAIMS)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            from betavae_sym.experiments.settings import canonical_json

            meta = {"schema_version": str(SCHEMA_VERSION), "settings_hash": settings_hash,
                    "settings": canonical_json(settings), "created_by": version, "created_at": str(time.time())}
            connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            connection.commit()
        finally:
            connection.close()
        try:
            os.link(tmp, path)  # never replaces a store another process has just created
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: rename (replaces a store created meanwhile)
            os.replace(tmp, path)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def new_owner() -> str:
    """A claimant's name, ``host/pid/nonce``: unique per call, and telling which process holds a claim."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str) -> bool:
    """False when ``owner`` (see :func:`new_owner`) is a process of this host that no longer exists.

    A process on another host cannot be asked: it counts as alive, and only its lease expiry frees its claims.
    """
    host, _, rest = owner.partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class Store:
    """A read-write connection to a validated store; creates the ``claims`` table when it is missing."""

    def __init__(self, path: Path, settings_hash: str):
        self.path = Path(path)
        self.settings_hash = settings_hash
        # autocommit: every transaction below is explicit (BEGIN IMMEDIATE takes the write lock at once)
        self.connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.connection.execute(_CLAIMS)

    @contextmanager
    def _transaction(self):
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def finished_ids(self) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT task_id FROM tasks")}

    def claim(self, task_ids: Iterable[str], count: int, owner: str, lease_seconds: float) -> list[str]:
        """Claim up to ``count`` of ``task_ids`` (in their order) for ``owner``; return the claimed ids.

        A task is free when it is not finished and nobody else holds a live
        claim on it: a claim is dead once its lease has expired or its owner
        is a process of this host that has ended (:func:`owner_alive`). Claims
        ``owner`` already holds are not returned again. One transaction, under
        the write lock, so two processes never claim the same task.
        """
        if count < 1:
            return []
        with self._transaction() as connection:
            now = time.time()
            finished = self.finished_ids()
            held = {task_id: (holder, expires) for task_id, holder, expires
                    in connection.execute("SELECT task_id, owner, expires_at FROM claims")}
            alive: dict[str, bool] = {}
            chosen = []
            for task_id in task_ids:
                if task_id in finished:
                    continue
                if task_id in held:
                    holder, expires = held[task_id]
                    if holder == owner:
                        continue
                    if expires > now and alive.setdefault(holder, owner_alive(holder)):
                        continue
                chosen.append(task_id)
                if len(chosen) == count:
                    break
            connection.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)",
                                   [(task_id, owner, now + lease_seconds, now) for task_id in chosen])
        return chosen

    def renew(self, owner: str, lease_seconds: float) -> None:
        """Extend every claim of ``owner`` to ``lease_seconds`` from now."""
        with self._transaction() as connection:
            connection.execute("UPDATE claims SET expires_at = ? WHERE owner = ?", (time.time() + lease_seconds, owner))

    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (its tasks are free again at once)."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM claims WHERE owner = ?", (owner,))

    def write(self, result: dict) -> None:
        """Record one finished task and drop its claim, in one transaction (a task already present is left as it
        is: another process whose claim had expired may have finished it too, with the same numbers)."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result["task_id"], result["beta"], result["realization"], result["seed"], self.settings_hash,
                 result["status"], result["message"],
                 None if result["metrics"] is None else json.dumps(result["metrics"]), result["final_loss"],
                 result["train_seconds"], result["eval_seconds"], time.time(), result["version"],
                 result["host"], result["params"]))
            connection.execute("DELETE FROM claims WHERE task_id = ?", (result["task_id"],))

    def close(self) -> None:
        self.connection.close()


def read_rows(path: Path) -> tuple[dict, list[dict]]:
    """Validate the store read-only; return ``(meta, rows)``, rows sorted by (beta, realization).

    Every row's metrics are decoded and checked (:func:`decode_metrics`): a damaged row is BadInput naming it.
    """
    meta = read_meta(path)
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        connection.row_factory = sqlite3.Row
        rows = [dict(row) for row in connection.execute(
            "SELECT task_id, beta, realization, seed, status, message, metrics, final_loss, train_seconds, "
            "eval_seconds, version, host, params IS NOT NULL AS has_params FROM tasks ORDER BY beta, realization")]
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"--store: '{path}' cannot be read ({exc}); choose another path") from None
    finally:
        connection.close()
    for row in rows:
        row["metrics"] = decode_metrics(path, row)
    return meta, rows


def _row_name(row) -> str:
    return f"row beta = {row['beta']}, realization {row['realization']} (task {str(row['task_id'])[:12]})"


_REMOVE_ROW = "remove that row and run simulate again to recompute it, or use another store"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def decode_metrics(path: Path, row: dict) -> dict | None:
    """The metrics of a store row, decoded from JSON (None for a diverged task); BadInput naming the store and
    the row when they are not valid JSON, or not a record of numbers or nulls (``kl_units`` a list of numbers)."""
    from betavae_sym.experiments.tasks import RECORD_METRICS

    text = row["metrics"]
    if text is None and row["status"] != "done":
        return None
    try:
        metrics = json.loads(text) if isinstance(text, (str, bytes)) else text
    except ValueError as exc:
        raise BadInput(f"'{path}' {_row_name(row)}: its metrics are not valid JSON ({exc}); {_REMOVE_ROW}",
                       parameter="store") from None
    if not (isinstance(metrics, dict) and isinstance(metrics.get("kl_units"), list)
            and all(_is_number(value) for value in metrics["kl_units"])
            and all(_is_number(metrics[name]) or metrics[name] is None  # null: undefined, with its reason
                    for name in RECORD_METRICS if name in metrics)):
        raise BadInput(f"'{path}' {_row_name(row)}: its metrics are not a record of numbers (or nulls) by name with "
                       f"'kl_units' a list of numbers; {_REMOVE_ROW}", parameter="store")
    return metrics


def check_params(path: Path, row: dict, blob) -> None:
    """BadInput naming the store and the row unless ``blob`` is a readable ``.npz`` (every array read, CRCs
    checked, no pickles)."""
    import io
    import zipfile

    import numpy as np

    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            for key in data.files:
                data[key]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, TypeError) as exc:
        raise BadInput(f"'{path}' {_row_name(row)}: its saved network parameters are not a readable .npz "
                       f"({type(exc).__name__}: {exc}); {_REMOVE_ROW}", parameter="store") from None


def validate_store(path: Path, settings: dict | None = None, settings_hash: str | None = None) -> dict:
    """Read the whole store at ``path`` (read-only) and check it before anything relies on it; return its meta.

    BadInput names the store, and the row where one is damaged: a corrupt or
    foreign file, a damaged meta table, other settings than ``settings``
    (when given, with their ``settings_hash``), metrics that are not valid
    JSON, saved parameters that are not a readable ``.npz``.
    """
    meta, _ = read_rows(path)
    if settings is not None:
        check_settings(path, meta, settings, settings_hash)
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        connection.row_factory = sqlite3.Row
        for row in connection.execute("SELECT task_id, beta, realization, params FROM tasks WHERE params IS NOT NULL"):
            check_params(path, row, row["params"])
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"--store: '{path}' cannot be read ({exc}); choose another path") from None
    finally:
        connection.close()
    return meta


def read_params(path: Path, beta: float, realization: int = 0) -> tuple[bytes, str] | None:
    """The saved parameters (checked: :func:`check_params`) and seed of (beta, realization), or None."""
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        connection.row_factory = sqlite3.Row
        row = connection.execute("SELECT task_id, beta, realization, params, seed FROM tasks WHERE beta = ? AND "
                                 "realization = ? AND params IS NOT NULL", (beta, realization)).fetchone()
    finally:
        connection.close()
    if row is None:
        return None
    check_params(path, row, row["params"])
    return row["params"], row["seed"]
