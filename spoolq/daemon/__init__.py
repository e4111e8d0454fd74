"""The daemon runtime: supervision of child processes, restarts, readiness, signals, logging."""
