"""APEL SSM's receiving stores, written with dirq's own ``Queue``, so APEL's loader reads them unchanged.

``ssmreceive`` writes what it accepts to ``PATH/incoming`` and what it
refuses to ``PATH/reject``: dirq ``Queue`` directories (not ``QueueSimple``)
with one file per schema field.  A receiver with ``ssm_store = "PATH"``
writes there instead of into spoolq's spools, with SSM's schemas:

* incoming: ``{body, signer, empaid?}``: the verified body, the signer's DN,
  the sender's ``empa-id``;
* reject: ``{body, signer?, empaid?, error}``: the body as it arrived (the
  verified body when only the DN was refused, as SSM does), and why.

dirq does not sync what it writes; :func:`_sync_element` does (each field
file, the element directory and its parent), so a message is on disk before
the broker is told to forget it.  SSM's stores hold text: a body that is not
UTF-8 cannot go to ``incoming`` and is rejected with that reason.
"""

from __future__ import annotations

import os

from dirq.queue import Queue

INCOMING_SCHEMA = {"body": "string", "signer": "string", "empaid": "string?"}
REJECT_SCHEMA = {"body": "string", "signer": "string?", "empaid": "string?", "error": "string"}


class SsmStore:
    """The ``incoming`` and ``reject`` stores under ``path``, as SSM's receiver lays them out."""

    def __init__(self, path: str):
        self.incoming = Queue(os.path.join(path, "incoming"), schema=INCOMING_SCHEMA)
        self.reject = Queue(os.path.join(path, "reject"), schema=REJECT_SCHEMA)

    def accept(self, body: bytes, signer: str, empaid: str | None) -> str:
        """Add a verified message to ``incoming`` (or to ``reject`` if its body is not text).

        Returns where it went: ``incoming/NAME`` or ``reject/NAME``.
        """
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self.refuse(
                body, signer, empaid, f"body is not UTF-8 text, which SSM's store holds: {exc}"
            )
        return "incoming/" + _add(self.incoming, _fields(body=text, signer=signer, empaid=empaid))

    def refuse(self, body: bytes, signer: str | None, empaid: str | None, error: str) -> str:
        """Add a refused message to ``reject`` with the reason."""
        text = body.decode("utf-8", "replace")  # what arrived is S/MIME text; keep what cannot decode visible
        return "reject/" + _add(self.reject, _fields(body=text, signer=signer, empaid=empaid, error=error))


def _fields(**fields: str | None) -> dict[str, str]:
    return {name: value for name, value in fields.items() if value is not None}


def _add(queue: Queue, fields: dict[str, str]) -> str:
    name = queue.add(fields)
    _sync_element(os.path.join(queue.path, name))
    return name


def _sync_element(element: str) -> None:
    """fsync each field file of a dirq ``Queue`` element, its directory and the directory above."""
    for entry in os.scandir(element):
        fd = os.open(entry.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for directory in (element, os.path.dirname(element)):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
