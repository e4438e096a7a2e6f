"""benchsuite: re-measure compact-CNN design claims (FLOPs vs speed) on your own hardware."""

__version__ = "0.2.0"  # the one place the version is defined (pyproject reads it)


def load_runs(*paths):
    """Load one or more run folders (or a results folder of runs) into one tidy pandas DataFrame."""
    from .results.run import load_runs as _load

    return _load(*paths)


__all__ = ["__version__", "load_runs"]
