"""The results store of a sweep: one SQLite file (stdlib ``sqlite3``).

Schema (version 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)
        schema_version, settings_hash, settings (canonical JSON), created_by (software version), created_at
    tasks(task_id TEXT PRIMARY KEY, beta REAL, realization INTEGER, seed TEXT, settings_hash TEXT,
          status TEXT ('done' | 'diverged'), message TEXT, metrics TEXT (JSON), final_loss REAL,
          train_seconds REAL, eval_seconds REAL, finished_at REAL (Unix time), version TEXT, host TEXT,
          params BLOB (.npz of the trained parameters, realization 0 only))

The file carries ``PRAGMA application_id`` = :data:`APPLICATION_ID`, so a
foreign SQLite file is recognised. A store is created whole (in a temporary
file, then renamed); each finished task is one transaction. An existing file
is validated through a read-only connection before anything is written: a
corrupt or foreign file, another schema or other settings raise
:class:`~betavae_sym.errors.BadInput` and leave it untouched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from betavae_sym.errors import BadInput

SCHEMA_VERSION = 1
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
    meta["settings"] = json.loads(meta["settings"])
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


def create_store(path: Path, settings: dict, settings_hash: str, version: str) -> None:
    """Create an empty store at ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        connection = sqlite3.connect(tmp)
        try:
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            from betavae_sym.experiments.settings import canonical_json

            meta = {"schema_version": str(SCHEMA_VERSION), "settings_hash": settings_hash,
                    "settings": canonical_json(settings), "created_by": version, "created_at": str(time.time())}
            connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            connection.commit()
        finally:
            connection.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """A read-write connection to a validated store."""

    def __init__(self, path: Path, settings_hash: str):
        self.path = Path(path)
        self.settings_hash = settings_hash
        self.connection = sqlite3.connect(self.path, timeout=60)

    def finished_ids(self) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT task_id FROM tasks")}

    def write(self, result: dict) -> None:
        """Record one finished task in its own transaction (a task already present is left as it is)."""
        with self.connection:
            self.connection.execute(
                "INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result["task_id"], result["beta"], result["realization"], result["seed"], self.settings_hash,
                 result["status"], result["message"],
                 None if result["metrics"] is None else json.dumps(result["metrics"]), result["final_loss"],
                 result["train_seconds"], result["eval_seconds"], time.time(), result["version"],
                 result["host"], result["params"]))

    def close(self) -> None:
        self.connection.close()


def read_rows(path: Path) -> tuple[dict, list[dict]]:
    """Validate the store read-only; return ``(meta, rows)``, rows sorted by (beta, realization)."""
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
        row["metrics"] = None if row["metrics"] is None else json.loads(row["metrics"])
    return meta, rows


def read_params(path: Path, beta: float, realization: int = 0) -> tuple[bytes, str] | None:
    """The saved parameters and seed of (beta, realization), or None."""
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT params, seed FROM tasks WHERE beta = ? AND realization = ? "
                                 "AND params IS NOT NULL", (beta, realization)).fetchone()
    finally:
        connection.close()
    return None if row is None else (row[0], row[1])
