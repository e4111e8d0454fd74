"""Enstore small-files aggregation: the pieces its handlers share.

* :mod:`.state`      -- a component's persistent state, one JSON file, atomic
* :mod:`.cachefs`    -- where a file lives in the disk cache; atomic writes; checksums
* :mod:`.containers` -- packing files into a tar container and reading them back
* :mod:`.copier`     -- the ``encp`` stand-in: a configurable copy command
* :mod:`.filedb`     -- where each archived file went (the file clerk's record)
"""
