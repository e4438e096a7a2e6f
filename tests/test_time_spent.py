"""host/time_spent.py: each phase gets the time from its start to the next named phase; the host the rest."""
from benchsuite.host.time_spent import HOST, TimeSpent


def test_phases_are_timed_from_one_named_phase_to_the_next_and_the_host_gets_the_rest():
    now = [0.0]
    spent = TimeSpent(clock=lambda: now[0])
    for t, phase in [(1.0, "worker start-up"), (3.0, "imports"), (4.5, "timed measurement"), (9.5, None),
                     (10.0, "worker start-up"), (11.0, "timed measurement"), (13.0, None)]:
        now[0] = t
        spent.enter(phase)
    now[0] = 20.0
    out = spent.summary(20.0)
    assert out == {HOST: 8.5, "timed measurement": 7.0, "worker start-up": 3.0, "imports": 1.5}
    assert list(out) == [HOST, "timed measurement", "worker start-up", "imports"]  # largest first


def test_the_host_share_is_never_negative():
    now = [0.0]
    spent = TimeSpent(clock=lambda: now[0])
    spent.enter("imports")
    now[0] = 5.0
    assert spent.summary(4.0)[HOST] == 0.0
