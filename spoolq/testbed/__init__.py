"""Private test hosts: brokers, certificates and nodes that exist only while a test or demo runs.

* :mod:`spoolq.testbed.broker`: a private RabbitMQ node with STOMP, on 127.0.0.1 or a host below;
* :mod:`spoolq.testbed.hosts`: several hosts on one machine, as network namespaces or loopback;
* :mod:`spoolq.testbed.cluster`: three RabbitMQ nodes, one per host, as one cluster;
* :mod:`spoolq.testbed.activemq`: a private ActiveMQ broker with STOMP, the same interface;
* :mod:`spoolq.testbed.pki`: a throw-away CA and the certificates it signs;
* :mod:`spoolq.testbed.shipping`: node configurations, shippers in threads, a plain publisher;
* :mod:`spoolq.testbed.contenders`: the senders and receivers the shipping benchmarks race;
* :mod:`spoolq.testbed.delay_proxy`, :mod:`spoolq.testbed.proxy_process`: a WAN link on 127.0.0.1:
  delayed each way, cut, or silent, in a thread or a process of its own;
* :mod:`spoolq.testbed.daemons`, :mod:`spoolq.testbed.debris`: daemons as processes, and what
  a crash leaves on disk.

It lives in the package because the demo across nodes starts its brokers with it, and the
tests and benchmarks use the same code. Nothing in the library below the demo imports it.
"""
