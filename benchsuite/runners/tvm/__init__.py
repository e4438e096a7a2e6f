"""Apache TVM: the runner (runner.py), MetaSchedule tuning (tuning.py) and everything else TVM needs."""
