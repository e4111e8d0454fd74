"""The Enstore small-files message catalogue: every message type with its builder.

One module per component family, named after the spool its messages go to:

* :mod:`~spoolq.enstore.catalogue.events`     -- events for the Policy Engine (``pe``)
* :mod:`~spoolq.enstore.catalogue.dispatcher` -- Migration Dispatcher commands and replies
* :mod:`~spoolq.enstore.catalogue.worker`     -- Migration Worker commands and replies

Every body is JSON following the ticket layouts of the design (section 6);
:mod:`~spoolq.enstore.catalogue.fields` checks required fields and raises
:class:`~spoolq.errors.Reject` naming the wrong one, so a runtime parks
a malformed message with that reason.
"""
