"""What the processes of one run make once: made by the first, read back by the rest, gone with the run."""
import os
import time

from benchsuite import run_cache


def test_made_once_in_a_run_every_time_outside(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    calls = []

    def make():
        calls.append(1)
        return b"graph %d" % len(calls)

    run_cache.use(None)
    assert run_cache.kept("a.onnx", make) == (b"graph 1", True)
    assert run_cache.kept("a.onnx", make) == (b"graph 2", True)
    run_cache.use("r1")
    try:
        assert run_cache.kept("a.onnx", make) == (b"graph 3", True)
        assert run_cache.kept("a.onnx", make) == (b"graph 3", False)  # read back, not made
        assert run_cache.kept("b.onnx", make) == (b"graph 4", True)   # another name is another file
        assert not list(run_cache.folder("r1").glob("*.tmp"))
    finally:
        run_cache.use(None)
    run_cache.remove("r1")
    assert not run_cache.folder("r1").exists()


def test_a_run_left_on_a_board_for_a_day_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    old, recent = run_cache.folder("old"), run_cache.folder("recent")
    for f in (old, recent):
        f.mkdir()
        (f / "x.onnx").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    run_cache.use("now")
    run_cache.use(None)
    assert not old.exists() and recent.exists()
