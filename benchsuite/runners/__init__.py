"""Runner plugins, found through the `benchsuite.runners` entry-point group."""
from __future__ import annotations

from ..errors import SpecError
from ..plugins import Registry
from .base import Prepared, Runner, Tuned, UnsupportedCase, option_problem, resolved_options

REGISTRY = Registry("benchsuite.runners", "runner")


def runner_names() -> list[str]:
    return REGISTRY.names()


def get_runner(name: str) -> Runner:
    return REGISTRY.load(name)()


def runner_class(name: str) -> type[Runner] | None:
    """The registered class, or None when its module cannot be imported here."""
    try:
        return REGISTRY.load(name)
    except ImportError:
        return None


def remote_table_runners() -> list[Runner]:
    """The installed runners that take a [remote] table of their own in a device profile."""
    out = []
    for n in runner_names():
        cls = REGISTRY.load(n)
        if cls.check_remote_table is not Runner.check_remote_table:
            out.append(cls())
    return out


def check_remote_table(checker) -> dict:
    """A profile's [remote] table, validated by the runner that takes one."""
    owners = remote_table_runners()
    if not owners:
        raise SpecError(checker.source, "remote", "no installed runner takes a [remote] table")
    return owners[0].check_remote_table(checker)


def tuning_runners(names) -> list[Runner]:
    """Those of the named runners that have a tuning step (`benchsuite tune`)."""
    return [r for r in map(get_runner, names) if r.tune is not None]


def runner_caveat(record, margin: float) -> str:
    """The caveat of the record's runner (`Runner.claim_caveat`); none for a runner not installed here."""
    if record.get("runner") not in runner_names():
        return ""
    return get_runner(record["runner"]).claim_caveat(record, margin)


def check_dtype(runner: Runner, dtype: str) -> None:
    """Raise UnsupportedCase when the runner has no path for `dtype`, naming the runners that have one."""
    if dtype in runner.dtypes:
        return
    others = [n for n in runner_names() if dtype in REGISTRY.load(n).dtypes]
    raise UnsupportedCase(f"runner {runner.name} runs {', '.join(runner.dtypes)}, not {dtype}"
                          + (f" ({dtype} runs under: {', '.join(others)})" if others else "")
                          + (f": {runner.dtype_note}" if runner.dtype_note else ""))


__all__ = ["Prepared", "Runner", "Tuned", "UnsupportedCase", "check_dtype", "check_remote_table", "get_runner",
           "option_problem", "remote_table_runners", "resolved_options", "runner_caveat", "runner_class",
           "runner_names", "tuning_runners"]
