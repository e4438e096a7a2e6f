"""A run as benchsuite keeps it, and the one way to load one: `Run.load(path | run_id)`.

A run folder (results/<run_id>/) holds run.json (what ran, where, the environment; written once at the
start and replaced atomically at the end), records.jsonl and samples.jsonl (appended and fsynced as cases
finish), and with several processes replicates.jsonl. Every consumer (verdicts, compare, regress, the
report, the archive, the CLI) reads runs through this module; nothing else spells the file names.

Samples are keyed everywhere by `SampleKey` (run_id, case_id, metric): a key that stays unique when the
samples of several runs are judged together.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..errors import BenchsuiteError
from ..records import read_jsonl, read_records_file, to_frame

RECORDS_FILE = "records.jsonl"
SAMPLES_FILE = "samples.jsonl"
RUN_FILE = "run.json"
REPLICATES_FILE = "replicates.jsonl"
VERDICTS_FILE = "verdicts.json"
KEPT_FILES = (RUN_FILE, RECORDS_FILE, SAMPLES_FILE, REPLICATES_FILE, VERDICTS_FILE)  # what the archive keeps


class SampleKey(NamedTuple):
    run_id: str
    case_id: str
    metric: str


def sample_key(record) -> SampleKey:
    """The key of a record's raw samples."""
    return SampleKey(record.get("run_id") or "", record["case_id"], record["metric"])


def sample_sets(entry: dict) -> list:
    """A samples entry's samples: per process (a list of lists) when the run had several, else flat."""
    return entry.get("process_samples") or entry["samples"]


@dataclass(frozen=True)
class RunMeta:
    """run.json, typed where benchsuite reads it; `raw` keeps the file whole (argv, device and workload
    files, timing) for the report and the history index."""
    run_id: str
    device: str = ""
    workload: str = ""
    status: str = ""
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    quick: bool = False
    processes: int = 1
    margin: float | None = None
    studies: tuple[str, ...] = ()
    reference: str | None = None
    emulated: bool = False
    confidence: float | None = None  # of its verdicts' intervals: set by a sequential design (its `sequential`)
    environment: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "RunMeta":
        return cls(run_id=d["run_id"], device=d.get("device") or "", workload=d.get("workload") or "",
                   status=d.get("status") or "", started=d.get("started"), finished=d.get("finished"),
                   duration_s=d.get("duration_s"), quick=bool(d.get("quick")), processes=d.get("processes") or 1,
                   margin=d.get("margin"), studies=tuple(d.get("studies") or ()), reference=d.get("reference"),
                   emulated=bool(d.get("emulated")), confidence=(d.get("sequential") or {}).get("confidence"),
                   environment=d.get("environment") or {}, raw=dict(d))


def read_records(folder: Path) -> list[dict]:
    """A run folder's records, each brought to the current schema."""
    return read_records_file(Path(folder) / RECORDS_FILE)


def read_meta(folder: Path) -> RunMeta:
    return RunMeta.from_dict(json.loads((Path(folder) / RUN_FILE).read_text()))


def is_run_folder(folder: Path) -> bool:
    return (Path(folder) / RECORDS_FILE).exists() or (Path(folder) / RUN_FILE).exists()


def run_dirs(*paths) -> list[Path]:
    """Run folders under the given paths (a run folder itself, or a folder of runs)."""
    out = []
    for p in map(Path, paths):
        if is_run_folder(p):
            out.append(p)
        elif p.is_dir():
            out += sorted(d for d in p.iterdir() if (d / RECORDS_FILE).exists())
        else:
            raise FileNotFoundError(f"{p}: not a run folder (no {RECORDS_FILE}) nor a folder of runs")
    return out


def run_folders(*roots: Path) -> list[Path]:
    """Every run folder (one with a run.json and records) anywhere under the roots."""
    out = []
    for root in map(Path, roots):
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such folder")
        out += sorted(p.parent for p in root.rglob(RUN_FILE) if (p.parent / RECORDS_FILE).exists())
    return out


@dataclass
class Run:
    """One run's metadata (None for a folder without run.json), records and raw samples."""
    name: str
    meta: RunMeta | None
    records: list[dict]
    samples: dict[SampleKey, list]
    path: Path | None = None
    numbers: dict[SampleKey, int] = field(default_factory=dict)  # calls per sample (the calibrated inner loop)

    @property
    def environment(self) -> dict:
        return self.meta.environment if self.meta else {}

    @classmethod
    def from_folder(cls, folder: Path) -> "Run":
        folder = Path(folder)
        try:
            meta = read_meta(folder)
        except (OSError, ValueError, KeyError):
            meta = None  # records without their run.json (a copied records file) still load
        entries = read_jsonl(folder / SAMPLES_FILE)
        keys = [SampleKey(s.get("run_id") or "", s["case_id"], s["metric"]) for s in entries]
        return cls(meta.run_id if meta else folder.name, meta, read_records(folder),
                   {k: sample_sets(s) for k, s in zip(keys, entries)}, folder,
                   {k: s.get("number") for k, s in zip(keys, entries)})

    @classmethod
    def load(cls, ref, history=None) -> "Run":
        """A run by its folder, or by run id from the history database (results/history.sqlite)."""
        p = Path(ref)
        if (p / RUN_FILE).exists():
            return cls.from_folder(p)
        if history is not None:
            meta = history.meta(str(ref))
            if meta is not None:
                return cls(str(ref), RunMeta.from_dict(meta), history.records(str(ref)), history.samples(str(ref)))
        raise BenchsuiteError(f"no run '{ref}': neither a run folder nor a run id in the history database")

    @classmethod
    def find(cls, *paths) -> list["Run"]:
        """Every run under the paths (run folders, or folders of runs), each loaded once."""
        return [cls.from_folder(d) for d in run_dirs(*paths)]

    def samples_of(self, record) -> list | None:
        return self.samples.get(sample_key(record))


def load_runs(*paths):
    """Every run under the paths as one tidy pandas DataFrame: one row per case and metric."""
    return to_frame([r for d in run_dirs(*paths) for r in read_records(d)])


class RunFolder:
    """Writing results/<run_id>/: run.json (written whole, atomically), records and samples (appended)."""

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

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS_FILE

    @property
    def samples_path(self) -> Path:
        return self.path / SAMPLES_FILE

    @property
    def replicates_path(self) -> Path:
        return self.path / REPLICATES_FILE

    @property
    def verdicts_path(self) -> Path:
        return self.path / VERDICTS_FILE

    def load(self) -> Run:
        return Run.from_folder(self.path)
