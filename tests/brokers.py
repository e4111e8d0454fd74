"""The broker products a shipping test can run against, as one parametrisation of the ``broker`` fixture.

``@EACH_BROKER`` on a test runs it once on RabbitMQ and once on ActiveMQ
(the fixtures ``rabbitmq`` and ``activemq`` in ``tests/conftest.py``); a test
without it talks to RabbitMQ.  A test that needs what only one product offers
(``rabbitmqctl close_all_connections``, RabbitMQ's TLS listener, its exact
words) stays on RabbitMQ.
"""

from __future__ import annotations

import pytest

PRODUCTS = ("rabbitmq", "activemq")

EACH_BROKER = pytest.mark.parametrize("broker", PRODUCTS, indirect=True)
