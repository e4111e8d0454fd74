"""``python -m spoolq`` runs the CLI, exactly as the ``spoolq`` script does."""

from spoolq.cli import main

main()
