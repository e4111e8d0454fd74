"""A real, isolated ActiveMQ "Classic" broker with one STOMP connector, on 127.0.0.1 only.

The second broker product spoolq is tested on, beside RabbitMQ
(:mod:`spoolq.testbed.broker`), with the same interface where the two agree:
``host``, ``stomp_port``, ``user``, ``passcode``, ``vhost``, :meth:`start`,
:meth:`stop`, :meth:`restart`, :meth:`close`, :meth:`frozen`, ``running`` and
:meth:`queue_depth`.  What RabbitMQ's ``rabbitmqctl`` offers and ActiveMQ has
only over JMX (closing every client connection, say) is left out, so that a
test needing it fails at once with an ``AttributeError`` rather than passing
without checking anything.

Everything the broker owns lives in one directory: its configuration (a
``simpleAuthenticationPlugin`` user, STOMP and STOMP over TLS on free ports,
the server certificate from its own test CA, ``ca``, as a PKCS12 key store), its
KahaDB store (kept across :meth:`restart`, so persistent messages survive) and
its log.  The JVM runs in its own process group and is stopped by pid.

Debian's ``activemq`` package provides the jars; :func:`ensure_installed`
installs it and a Java runtime with apt-get when missing.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from xml.sax.saxutils import quoteattr

import stomp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from spoolq.testbed.broker import free_port
from spoolq.testbed.broker_process import BrokerProcess, apt_install
from spoolq.testbed.hosts import LOOPBACK
from spoolq.testbed.pki import Credential, TestCA

ACTIVEMQ_HOME = Path("/usr/share/activemq")
ACTIVEMQ_JAR = ACTIVEMQ_HOME / "bin" / "activemq.jar"
START_TIMEOUT = 120.0  # a JVM on a busy 2-core machine: 2 s alone, far more when shared
BROWSE_TIMEOUT = 30.0  # seconds for a queue browse to reach its end marker
MAX_BROWSE = 100_000  # messages a browse may see (ActiveMQ's default stops at 400)
KEYSTORE_PASSWORD = "spoolq-test"  # Java will not read a PKCS12 store without one

CONFIGURATION = """<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
    http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
    http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="spoolq-test"
          useJmx="false" schedulerSupport="false" advisorySupport="false" dataDirectory={data}>
    <sslContext>
      <sslContext keyStore={keystore} keyStorePassword={keystore_password} keyStoreType="PKCS12"/>
    </sslContext>
    <destinationPolicy>
      <policyMap><policyEntries>
        <policyEntry queue="&gt;" maxBrowsePageSize="{max_browse}" maxPageSize="{max_browse}"/>
      </policyEntries></policyMap>
    </destinationPolicy>
    <plugins>
      <simpleAuthenticationPlugin>
        <users>
          <authenticationUser username={user} password={passcode} groups="users"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <persistenceAdapter><kahaDB directory={kahadb}/></persistenceAdapter>
    <systemUsage><systemUsage>
      <memoryUsage><memoryUsage limit="64 mb"/></memoryUsage>
      <storeUsage><storeUsage limit="1 gb"/></storeUsage>
      <tempUsage><tempUsage limit="256 mb"/></tempUsage>
    </systemUsage></systemUsage>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:{stomp_port}"/>
      <transportConnector name="stomp+ssl" uri="stomp+ssl://127.0.0.1:{stomps_port}"/>
    </transportConnectors>
  </broker>
</beans>
"""

LOG_CONFIGURATION = """log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%d %-5p %c{{1}} - %m%n
"""


def ensure_installed() -> None:
    """Install Debian's activemq and a headless Java runtime when either is missing."""
    if not (ACTIVEMQ_JAR.exists() and shutil.which("java")):
        apt_install("activemq", "default-jre-headless")


class ActiveMQ(BrokerProcess):
    """One ActiveMQ broker in ``directory``; :meth:`start` / :meth:`stop` may repeat."""

    product = "activemq"
    user = "guest"
    passcode = "guest"
    vhost = "/"  # sent as STOMP's host header, which ActiveMQ ignores
    host = "127.0.0.1"

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.conf = self.directory / "conf"
        self.data = self.directory / "data"
        self.conf.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        self.stomp_port, self.stomps_port = free_port(), free_port()
        self.ca = TestCA(self.directory / "pki")
        self.server_cert = self.ca.issue("localhost")
        self._node: subprocess.Popen | None = None
        self._write_configuration()

    def _write_configuration(self) -> None:
        keystore = self.conf / "broker.p12"
        _write_keystore(self.server_cert, keystore, KEYSTORE_PASSWORD)
        (self.conf / "activemq.xml").write_text(
            CONFIGURATION.format(
                keystore=quoteattr(f"file:{keystore}"),
                keystore_password=quoteattr(KEYSTORE_PASSWORD),
                stomps_port=self.stomps_port,
                data=quoteattr(str(self.data)),
                kahadb=quoteattr(str(self.data / "kahadb")),
                user=quoteattr(self.user),
                passcode=quoteattr(self.passcode),
                stomp_port=self.stomp_port,
                max_browse=MAX_BROWSE,
            )
        )
        (self.conf / "log4j.properties").write_text(LOG_CONFIGURATION.format(log=self.data / "activemq.log"))

    def command(self) -> list[str]:
        """The JVM's command line: the broker of ``conf/activemq.xml``, small heap, our own log."""
        return [
            shutil.which("java") or "java",
            "-Xms64m",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",  # starts sooner; the tests move few messages
            f"-Dlog4j.configuration=file:{self.conf / 'log4j.properties'}",
            f"-Dactivemq.home={ACTIVEMQ_HOME}",
            f"-Dactivemq.base={self.directory}",
            f"-Dactivemq.conf={self.conf}",
            f"-Dactivemq.data={self.data}",
            "-jar",
            str(ACTIVEMQ_JAR),
            "start",
            f"xbean:file:{self.conf / 'activemq.xml'}",
        ]

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start the JVM; return when the STOMP connector accepts connections."""
        ensure_installed()
        log = open(self.directory / "node.out", "ab")  # noqa: SIM115  (kept by the child)
        self._node = subprocess.Popen(
            self.command(),
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, by pid
        )
        log.close()
        LOOPBACK.wait_for_ports(
            [self.stomp_port, self.stomps_port],
            START_TIMEOUT,
            f"ActiveMQ (see {self.directory / 'node.out'} and {self.data / 'activemq.log'})",
            failed=lambda: self._node.poll() is not None,
        )

    # -- control --------------------------------------------------------------------

    def queue_depth(self, queue: str) -> int:
        """Messages in ``queue`` not yet acknowledged (delivered ones included), as the broker holds them.

        Without JMX (and with no XStream for the statistics plugin's map
        messages over STOMP), a queue browser counts them: ``browser: true``
        on SUBSCRIBE shows every message without consuming it, then a frame
        with ``browser: end``.
        """
        conn = stomp.Connection12([(self.host, self.stomp_port)], auto_decode=False)
        browse = _Browse()
        conn.set_listener("browse", browse)
        conn.connect(self.user, self.passcode, wait=True)
        try:
            browser = f"browse-{uuid.uuid4().hex[:8]}"
            conn.subscribe(f"/queue/{queue}", id=browser, headers={"browser": "true"})
            if not browse.ended.wait(BROWSE_TIMEOUT):
                raise RuntimeError(f"browsing queue {queue} did not end within {BROWSE_TIMEOUT:.0f} s")
            return browse.count
        finally:
            conn.disconnect()


def _write_keystore(credential: Credential, path: Path, password: str) -> None:
    """The server's certificate and key as the PKCS12 key store Java's TLS reads."""
    key = serialization.load_pem_private_key(credential.key.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(credential.cert.read_bytes())
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"broker", key, cert, None, serialization.BestAvailableEncryption(password.encode())
        )
    )
    path.chmod(0o600)


class _Browse(stomp.ConnectionListener):
    """Counts the messages of one queue browse until its end marker."""

    def __init__(self):
        self.count = 0
        self.ended = threading.Event()

    def on_message(self, frame) -> None:
        if frame.headers.get("browser") == "end":
            self.ended.set()
        else:
            self.count += 1
