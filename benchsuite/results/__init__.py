"""Over finished runs: the Record type and its files, a run folder and its loading (Run), the history
index (store), the archive, pooling of processes, compare/regress and verdicts."""
