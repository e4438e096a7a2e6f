"""Worker isolation with the fake runner: raise, crash and hang become error records; others finish."""
from benchsuite.spec import load_device, load_workload
from benchsuite.sweep import expand, groups
from benchsuite.host.supervisor import run_group


def _run(fake_device, small_workload, extra):
    dev = load_device(str(fake_device(extra)))
    wl = load_workload(str(small_workload()))
    cases = expand(wl, dev)
    (group,) = groups(cases)
    got = {}
    run_group(group, dev, False, lambda case, recs, samples: got.setdefault(case.params["c1"], (recs, samples)))
    assert set(got) == {16, 8, 4}, "every case ends with records"
    return got


def _status(recs):
    return {r["metric"]: r["status"] for r in recs if r["metric"].startswith("latency")}


def test_all_ok_with_samples(fake_device, small_workload):
    got = _run(fake_device, small_workload, "[runner_options.fake]\nseconds_per_gmac = 0.05\n")
    for recs, samples in got.values():
        assert _status(recs) == {"latency_forward": "ok", "latency_backward": "ok"}
        assert {s["metric"] for s in samples} == {"latency_forward", "latency_backward"}
        fwd = next(r for r in recs if r["metric"] == "latency_forward")
        assert fwd["n"] >= 5 and fwd["ci_low"] <= fwd["value"] <= fwd["ci_high"]
        assert any(r["metric"] == "output_error" and r["value"] < 1e-3 for r in recs)


def test_raise_is_an_error_record(fake_device, small_workload):
    got = _run(fake_device, small_workload, '[runner_options.fake]\nraise_on = ["*c1=8,*"]\n')
    recs, _ = got[8]
    assert _status(recs) == {"latency_forward": "error", "latency_backward": "error"}
    assert all("injected failure" in r["message"] for r in recs if r["metric"].startswith("latency"))
    assert _status(got[16][0])["latency_forward"] == "ok"


def test_crash_loses_only_the_crashing_case(fake_device, small_workload):
    got = _run(fake_device, small_workload, '[runner_options.fake]\ncrash_on = ["*c1=4,*"]\n')
    recs, _ = got[4]
    assert _status(recs) == {"latency_forward": "error", "latency_backward": "error"}
    assert "SIGABRT" in next(r["message"] for r in recs if r["metric"] == "latency_forward")
    assert _status(got[16][0]) == _status(got[8][0]) == {"latency_forward": "ok", "latency_backward": "ok"}


def test_hang_times_out(fake_device, small_workload):
    extra = '[runner_options.fake]\nhang_on = ["*c1=16,*"]\n'
    dev_text = fake_device(extra).read_text().replace("case_timeout_s = 20",
                                                      "case_timeout_s = 4\nprepare_timeout_s = 10")
    p = small_workload().parent / "hangdev.toml"
    p.write_text(dev_text)
    dev = load_device(str(p))
    (group,) = groups(expand(load_workload(str(small_workload())), dev))
    got = {}
    run_group(group, dev, False, lambda case, recs, samples: got.setdefault(case.params["c1"], recs))
    (fwd,) = [r for r in got[16] if r["metric"] == "latency_forward"]
    assert "timed out: no progress for 10 s" in fwd["message"] and fwd["status"] == "error"
    assert _status(got[8]) == {"latency_forward": "ok", "latency_backward": "ok"}


def test_output_mismatch_states_error_size(fake_device, small_workload):
    got = _run(fake_device, small_workload, '[runner_options.fake]\ncorrupt_output_on = ["*c1=8,*"]\n')
    (fwd,) = [r for r in got[8][0] if r["metric"] == "latency_forward"]
    assert fwd["status"] == "error" and "max relative error" in fwd["message"] and "tolerance 0.001" in fwd["message"]


def _two_groups(fake_device, small_workload, extra):
    from tests.conftest import SMALL_G1

    dev = load_device(str(fake_device("[runner_options.fake]\nseconds_per_gmac = 0.05\n" + extra)))
    wl = load_workload(str(small_workload(SMALL_G1.replace("resolutions = [16]", "resolutions = [16, 8]"))))
    found = groups(expand(wl, dev))
    assert len(found) == 2
    return dev, found


def test_a_pass_gives_its_groups_one_worker(fake_device, small_workload):
    """Groups of one pass, runner and thread count go to one worker process, one after the other; the next
    pass starts a new one (a group's processes are never one process)."""
    from benchsuite.host.worker_pool import WorkerPool

    dev, found = _two_groups(fake_device, small_workload, "")
    pool, got = WorkerPool(), []
    for group in found:
        run_group(group, dev, False, lambda case, recs, samples: got.append(_status(recs)), pool=pool)
    assert pool.started == 1 and len(got) == 6
    assert all(s == {"latency_forward": "ok", "latency_backward": "ok"} for s in got)
    pool.new_pass()
    run_group(found[0], dev, False, lambda case, recs, samples: got.append(_status(recs)), pool=pool)
    pool.new_pass()
    assert pool.started == 2 and len(got) == 9


def test_a_worker_whose_job_failed_gets_no_other(fake_device, small_workload):
    """A crash in a kept worker loses only the crashing case (its group's other cases re-run in workers of
    their own); the pass's next group gets a new worker."""
    from benchsuite.host.worker_pool import WorkerPool

    dev, found = _two_groups(fake_device, small_workload, 'crash_on = ["*c1=4,* r16 *"]\n')
    pool, got = WorkerPool(), {}
    for group in found:
        run_group(group, dev, False, lambda case, recs, samples: got.setdefault(case.label, _status(recs)), pool=pool)
    pool.new_pass()
    assert pool.started == 2 and len(got) == 6
    crashed = [label for label, s in got.items() if s["latency_forward"] == "error"]
    assert len(crashed) == 1 and "c1=4," in crashed[0] and " r16 " in crashed[0]


def test_a_kept_worker_that_ended_while_idle_is_replaced(fake_device, small_workload):
    from benchsuite.host.worker_pool import WorkerPool

    dev, found = _two_groups(fake_device, small_workload, "")
    pool, got = WorkerPool(), []
    run_group(found[0], dev, False, lambda case, recs, samples: got.append(_status(recs)), pool=pool)
    (worker,) = pool._workers.values()
    worker.proc.kill()
    worker.proc.wait()
    run_group(found[1], dev, False, lambda case, recs, samples: got.append(_status(recs)), pool=pool)
    pool.new_pass()
    assert pool.started == 2 and all(s == {"latency_forward": "ok", "latency_backward": "ok"} for s in got)
