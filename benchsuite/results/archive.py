"""The run archive: run records kept where nothing evicts them, and the SQLite index rebuilt from them.

The records (JSONL) are the source of truth; `history.sqlite` is an index that can always be rebuilt.
`archive_runs` copies each run folder's files into `ARCHIVE/<device>/<run_id>/` (a checkout of a git data
branch in the nightly workflow, or any folder that is backed up). A run id is unique, so an archived run
is never rewritten and two writers adding different runs touch different folders: merging their commits
never conflicts. Each run is written into a temporary folder and renamed into place, so a reader never
sees half a run. `rebuild_index` builds a fresh index from archives and results folders (newest run
folder wins for a run id), written beside the target and renamed over it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .run import KEPT_FILES, Run, read_meta, run_folders
from .store import History


def archive_runs(results: Path, archive: Path) -> list[str]:
    """Copy every run under `results` that the archive lacks; returns the run ids added."""
    added = []
    for folder in run_folders(results):
        meta = read_meta(folder)
        if meta.status == "running":
            continue  # a run still being written is archived by the job that finishes it
        target = Path(archive) / _safe(meta.device or "unknown") / _safe(meta.run_id)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
        for name in KEPT_FILES:
            if (folder / name).exists():
                shutil.copy2(folder / name, tmp / name)
        try:
            os.rename(tmp, target)
        except OSError:  # another writer archived the same run in the meantime
            shutil.rmtree(tmp, ignore_errors=True)
            continue
        added.append(meta.run_id)
    return added


def rebuild_index(sources: list[Path], history: Path) -> int:
    """A fresh index of every run under the sources, renamed over `history`; returns the run count."""
    runs: dict[str, Path] = {}
    for folder in run_folders(*sources):
        runs[read_meta(folder).run_id] = folder
    history = Path(history)
    history.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".history-", suffix=".sqlite", dir=history.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        index = History(Path(tmp))
        for run_id in sorted(runs):
            index.add_run(Run.from_folder(runs[run_id]))
        os.replace(tmp, history)
    finally:
        Path(tmp).unlink(missing_ok=True)  # left only when something failed: the old index stays as it was
    return len(runs)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(name)) or "_"
