"""The command line that starts spoolq itself in a child process.

``python -m spoolq`` puts the current directory first on ``sys.path``, so a
``spoolq/`` folder there (``cd /etc && spoolq -c spoolq/spoolq.toml run``, the
documented ``/etc/spoolq`` layout) would be imported instead of the package.
``-P`` (Python 3.11's ``safe_path``) leaves the current directory out and
changes nothing else: the environment (``PYTHONPATH``) and the interpreter's
site-packages, a virtual environment's and an editable install's included,
are kept.  ``-I`` would also drop ``PYTHONPATH`` and the user's site-packages,
which plugin handlers may live in.  The child then imports what the
``spoolq`` console script imports, whose own first path entry is its ``bin/``
folder, never the current directory.
"""

from __future__ import annotations

import sys

#: argv prefix of a child running the spoolq CLI, whatever the current directory holds.
SPOOLQ_COMMAND: tuple[str, ...] = (sys.executable, "-P", "-m", "spoolq")
