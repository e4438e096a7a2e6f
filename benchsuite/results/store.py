"""The history database (SQLite): every run, its records and raw samples, indexed; rebuilt from run folders."""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from pathlib import Path

from ..errors import BenchsuiteError
from ..records import COLUMNS, upgrade_records
from .run import Run, SampleKey

HISTORY_FILE = "history.sqlite"


def new_run_id(device: str, workload: str) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{device}-{workload}-{secrets.token_hex(2)}"


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started TEXT, finished TEXT, status TEXT,
    device TEXT, workload TEXT, machine_id TEXT, versions TEXT, meta TEXT);
CREATE TABLE IF NOT EXISTS records ({", ".join(f'"{c}"' for c in COLUMNS)});
CREATE TABLE IF NOT EXISTS samples (run_id TEXT, case_id TEXT, metric TEXT, number INTEGER, samples TEXT);
CREATE INDEX IF NOT EXISTS records_case ON records (case_id, metric);
CREATE INDEX IF NOT EXISTS samples_case ON samples (run_id, case_id, metric);
"""
_JSON_COLS = ("params", "tags", "config", "process_medians")


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
                have = {row[1] for row in db.execute("PRAGMA table_info(records)")}
                for column in COLUMNS:  # an index made by an older version: the columns added since
                    if column not in have:
                        db.execute(f'ALTER TABLE records ADD COLUMN "{column}"')
        except sqlite3.DatabaseError as e:  # not SQLite, corrupt, or unopenable: the user's file, not a bug
            raise BenchsuiteError(f"{self.path}: cannot be used as a history database ({e})") from None

    def _db(self):
        # concurrent writers (two runs finishing together) wait for each other's transaction, up to a minute
        return sqlite3.connect(self.path, timeout=60)

    def add_run(self, run: Run) -> None:
        """Insert (or replace) a run (loaded from its folder)."""
        meta = run.meta.raw
        run_id = run.meta.run_id
        env = run.meta.environment
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # take the write lock first: no reader-to-writer upgrade deadlock
            for table in ("runs", "records", "samples"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?)",
                       (run_id, run.meta.started, run.meta.finished, run.meta.status,
                        run.meta.device, run.meta.workload, env.get("machine_id"),
                        json.dumps(env.get("libraries", {}), sort_keys=True), json.dumps(meta, default=str)))
            rows = [tuple(json.dumps(r.get(c), sort_keys=True) if c in _JSON_COLS else r.get(c) for c in COLUMNS)
                    for r in run.records]
            columns = ", ".join(f'"{c}"' for c in COLUMNS)
            db.executemany(f"INSERT INTO records ({columns}) VALUES ({','.join('?' * len(COLUMNS))})", rows)
            db.executemany("INSERT INTO samples VALUES (?,?,?,?,?)",
                           [(run_id, key.case_id, key.metric, run.numbers.get(key), json.dumps(sets))
                            for key, sets in run.samples.items()])

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
        columns = ", ".join(f'"{c}"' for c in COLUMNS)
        with self._db() as db:
            rows = db.execute(f"SELECT {columns} FROM records WHERE run_id = ?", (run_id,)).fetchall()
        out = []
        for row in rows:
            r = dict(zip(COLUMNS, row))
            for c in _JSON_COLS:
                r[c] = json.loads(r[c]) if r[c] else ({} if c != "process_medians" else None)
            out.append(r)
        return upgrade_records(out)  # rows an older version indexed

    def samples(self, run_id: str) -> dict[SampleKey, list]:
        with self._db() as db:
            rows = db.execute("SELECT case_id, metric, samples FROM samples WHERE run_id = ?", (run_id,))
            return {SampleKey(run_id, c, m): json.loads(s) for c, m, s in rows}
