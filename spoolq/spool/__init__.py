"""The spool layer: the python-dirq ``QueueSimple`` format on disk, and nothing above it.

Only this package knows file names, lock links, batches and the parked area;
everything above asks it to put, lock, read, park and purge.
"""

from spoolq.spool.claim import Claim
from spoolq.spool.queue import Spool
from spoolq.spool.root import SpoolRoot

__all__ = ["Claim", "Spool", "SpoolRoot"]
