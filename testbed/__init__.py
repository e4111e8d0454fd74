"""Test support shared by the tests and the benchmarks; not part of the installed spoolq package.

* :mod:`testbed.broker`: a private RabbitMQ node with STOMP, on 127.0.0.1 only;
* :mod:`testbed.pki`: a throw-away CA and the certificates it signs;
* :mod:`testbed.shipping`: node configurations, shippers in threads, a plain publisher.

It sits at the repository root beside ``tests/`` and ``benchmarks/`` so that both
import it, and neither imports the other.
"""
