"""The kind of broker queue a destination asks for: ``queue_type`` of ``[destinations.NAME]``.

RabbitMQ's STOMP plugin declares a ``/queue/NAME`` destination on the first
SEND or SUBSCRIBE that names it, as a *classic* queue unless the frame says
otherwise.  A classic queue lives on one broker node: when that node dies
the queue and everything in it is gone from the cluster until it returns,
and every SEND to it is refused (``home node ... is down or inaccessible``).
A *quorum* queue is replicated over the cluster's nodes (Raft): it keeps
taking and delivering messages while a majority of them live, which is what
a site with several broker nodes wants.

RabbitMQ checks every later declaration against the first: a frame to a
quorum queue that does not say ``x-queue-type: quorum`` is answered with
``precondition_failed`` and the connection is closed.  So the headers go on
EVERY SEND and on the SUBSCRIBE, never only on the first.

``classic`` sends no header at all, exactly as spoolq always did: a queue a
sender declared that way stays equivalent to what existing senders declare.
Stream queues are refused: they are never emptied by an ack, so spoolq's
at-least-once accounting (an ack removes a message) does not hold on them.
"""

from __future__ import annotations

QUEUE_TYPES = ("classic", "quorum")
REFUSED_QUEUE_TYPES = {
    "stream": "stream queues are not supported: an ack does not remove a message from a stream,"
    " so what was received would be delivered again; use quorum (replicated) or classic",
}

_QUORUM_HEADERS = {"x-queue-type": "quorum", "durable": "true", "auto-delete": "false"}


def queue_headers(queue_type: str) -> dict[str, str]:
    """The headers each SEND and SUBSCRIBE carries for ``queue_type`` (none for ``classic``)."""
    if queue_type == "quorum":
        return dict(_QUORUM_HEADERS)
    return {}
