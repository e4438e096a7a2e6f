"""Run folders (results/<run_id>/) and the history database (SQLite)."""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from pathlib import Path

from .errors import BenchsuiteError
from .records import COLUMNS, RECORDS_FILE, RUN_FILE, SAMPLES_FILE, read_jsonl, read_records, sample_sets

HISTORY_FILE = "history.sqlite"


def new_run_id(device: str, workload: str) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{device}-{workload}-{secrets.token_hex(2)}"


class RunFolder:
    """results/<run_id>/: run.json (environment, once), records.jsonl and samples.jsonl (appended)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, results: Path, run_id: str, meta: dict) -> "RunFolder":
        path = Path(results) / run_id
        path.mkdir(parents=True, exist_ok=False)
        folder = cls(path)
        folder.write_meta(meta)
        return folder

    def write_meta(self, meta: dict) -> None:
        tmp = self.path / (RUN_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2, default=str))
        os.replace(tmp, self.path / RUN_FILE)  # atomic: run.json is never half-written

    def meta(self) -> dict:
        return json.loads((self.path / RUN_FILE).read_text())

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS_FILE

    @property
    def samples_path(self) -> Path:
        return self.path / SAMPLES_FILE

    def records(self) -> list[dict]:
        return read_records(self.path)

    def samples(self) -> list[dict]:
        return read_jsonl(self.samples_path)


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started TEXT, finished TEXT, status TEXT,
    device TEXT, workload TEXT, machine_id TEXT, versions TEXT, meta TEXT);
CREATE TABLE IF NOT EXISTS records ({", ".join(f'"{c}"' for c in COLUMNS)});
CREATE TABLE IF NOT EXISTS samples (run_id TEXT, case_id TEXT, metric TEXT, number INTEGER, samples TEXT);
CREATE INDEX IF NOT EXISTS records_case ON records (case_id, metric);
CREATE INDEX IF NOT EXISTS samples_case ON samples (run_id, case_id, metric);
"""
_JSON_COLS = ("params", "tags", "config")


class History:
    """Every run, its records and raw samples, in one SQLite file (default results/history.sqlite)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise BenchsuiteError(f"{self.path}: is a folder, not a history database file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._db() as db:
                db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:  # not SQLite, corrupt, or unopenable: the user's file, not a bug
            raise BenchsuiteError(f"{self.path}: cannot be used as a history database ({e})") from None

    def _db(self):
        # concurrent writers (two runs finishing together) wait for each other's transaction, up to a minute
        return sqlite3.connect(self.path, timeout=60)

    def add_run(self, folder: RunFolder) -> None:
        """Insert (or replace) a run from its folder."""
        meta = folder.meta()
        run_id = meta["run_id"]
        env = meta.get("environment", {})
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # take the write lock first: no reader-to-writer upgrade deadlock
            for table in ("runs", "records", "samples"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?)",
                       (run_id, meta.get("started"), meta.get("finished"), meta.get("status"),
                        meta.get("device"), meta.get("workload"), env.get("machine_id"),
                        json.dumps(env.get("libraries", {}), sort_keys=True), json.dumps(meta, default=str)))
            rows = [tuple(json.dumps(r.get(c), sort_keys=True) if c in _JSON_COLS else r.get(c) for c in COLUMNS)
                    for r in folder.records()]
            db.executemany(f"INSERT INTO records VALUES ({','.join('?' * len(COLUMNS))})", rows)
            db.executemany("INSERT INTO samples VALUES (?,?,?,?,?)",
                           [(run_id, s["case_id"], s["metric"], s["number"], json.dumps(sample_sets(s)))
                            for s in folder.samples()])

    def runs(self, workload: str | None = None, device: str | None = None) -> list[dict]:
        q, args = "SELECT run_id, started, status, device, workload, machine_id, versions FROM runs", []
        cond = [(c, v) for c, v in (("workload", workload), ("device", device)) if v]
        if cond:
            q += " WHERE " + " AND ".join(f"{c} = ?" for c, _ in cond)
            args = [v for _, v in cond]
        with self._db() as db:
            cols = ("run_id", "started", "status", "device", "workload", "machine_id", "versions")
            return [dict(zip(cols, r)) for r in db.execute(q + " ORDER BY started, run_id", args)]

    def meta(self, run_id: str) -> dict | None:
        with self._db() as db:
            row = db.execute("SELECT meta FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def records(self, run_id: str) -> list[dict]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM records WHERE run_id = ?", (run_id,)).fetchall()
        out = []
        for row in rows:
            r = dict(zip(COLUMNS, row))
            for c in _JSON_COLS:
                r[c] = json.loads(r[c]) if r[c] else {}
            out.append(r)
        return out

    def samples(self, run_id: str) -> dict[tuple[str, str], list[float]]:
        with self._db() as db:
            rows = db.execute("SELECT case_id, metric, samples FROM samples WHERE run_id = ?", (run_id,))
            return {(c, m): json.loads(s) for c, m, s in rows}
