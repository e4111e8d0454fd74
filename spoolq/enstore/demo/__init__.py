"""``spoolq demo``: Enstore small-files aggregation, end to end, on this machine.

See :func:`spoolq.enstore.demo.scenario.run_demo`.
"""
