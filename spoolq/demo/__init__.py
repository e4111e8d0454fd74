"""``spoolq demo``: Enstore small-files aggregation, end to end, on this machine.

See :func:`spoolq.demo.scenario.run_demo`.
"""
