"""spoolq: components that talk through directory queues on local disk.

The bottom layer is the message (:mod:`spoolq.message`), its on-disk envelope
(:mod:`spoolq.envelope`) and the spool (:mod:`spoolq.spool.queue`, :mod:`spoolq.spool.root`).
"""

from spoolq.errors import SpoolqError
from spoolq.message import Message
from spoolq.spool import Claim, Spool, SpoolRoot

__version__ = "0.1.0"
__all__ = ["Claim", "Message", "Spool", "SpoolRoot", "SpoolqError", "__version__"]
