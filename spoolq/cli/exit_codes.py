"""Named exit codes of the ``spoolq`` command (documented in the README).

"Nothing to do" is success (0).
"""

OK = 0
FAILURE = 1  # an operation failed (a message could not be written, a daemon died)
USAGE = 2  # bad command line (click's own code)
NOT_FOUND = 3  # no such spool, element or parked message
CONFIG = 4  # the configuration is invalid or names no spool root
MALFORMED = 5  # a message could not be parsed
INTERRUPTED = 130  # stopped by SIGINT
