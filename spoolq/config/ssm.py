"""APEL SSM's ``sender.cfg`` and ``receiver.cfg`` (and the DN file), read as a spoolq configuration.

A site replacing ``ssmsend`` or ``ssmreceive`` keeps its files: they are read
as SSM 4 reads them (``configparser``, ``key: value``, ``%`` interpolation)
and turned into the same raw ``[brokers]``, ``[destinations]`` and
``[shippers]`` tables a TOML file holds, so that :mod:`spoolq.shippers.config`
validates and runs them exactly as it runs the TOML that
``spoolq config from-ssm`` writes from them.  One shipper is made, named
after the daemon it replaces (``ssmsend`` or ``ssmreceive``).

Every key SSM 4 reads has a mapping (docs/apel-ssm.md).  Keys spoolq does not
support (AMS, BDII look-up) and keys SSM does not know are refused, one
line naming the file, the section and the key.
"""

from __future__ import annotations

import configparser
import os

from spoolq.config.model import Config
from spoolq.config.source import read_bytes
from spoolq.errors import ConfigError

SENDER, RECEIVER = "ssmsend", "ssmreceive"
DEFAULT_DN_FILE = "/etc/apel/dns"  # ssmreceive's default for -d
#: ``path_type = directory``: the spool its files are moved into is the store's name plus this.
SENDING_SUFFIX = ".sending"

_COMMON = {
    "broker": ("host", "port", "use_ssl"),
    "messaging": ("destination", "path", "ams_project", "token"),  # the last two: AMS only
    "logging": ("logfile", "level", "console"),  # spoolq logs to stderr (docs/apel-ssm.md)
}
KEYS = {
    SENDER: {
        **_COMMON,
        "sender": ("protocol",),
        "certificates": ("certificate", "key", "capath", "server_cert", "verify_server_cert"),
        "messaging": (*_COMMON["messaging"], "path_type"),
    },
    RECEIVER: {
        **_COMMON,
        "receiver": ("protocol",),
        "certificates": ("certificate", "key", "capath", "check_crls"),
        "daemon": ("pidfile",),
    },
}
#: Keys of older SSM releases, refused with what to do instead.
UNSUPPORTED = {
    ("broker", "bdii"): "BDII look-up of brokers is not supported: name the broker with host and port",
    ("broker", "network"): "BDII look-up of brokers is not supported: name the broker with host and port",
}


def role_of(path: str, text: bytes | None = None) -> str:
    """``ssmsend`` for a file with a ``[sender]`` section; ``ssmreceive`` for one with ``[receiver]``
    or (the section is optional) ``[daemon]``; else ``ssmsend``."""
    parser = _parse(path, text)
    if parser.has_section("sender"):
        return SENDER
    return RECEIVER if parser.has_section("receiver") or parser.has_section("daemon") else SENDER


def load_ssm_config(path: str, role: str, dn_file: str | None = None, text: bytes | None = None) -> Config:
    """The spoolq configuration equivalent to SSM's ``path``, run as ``role`` (ssmsend or ssmreceive).

    ``dn_file``: the receiver's list of DNs allowed to send (``ssmreceive -d``;
    default ``/etc/apel/dns``); like SSM, a receiver refuses to start
    without at least one valid DN in it.
    """
    ssm = _SsmFile(path, _parse(path, text), role)
    ssm.check_keys()
    broker = ssm.broker()
    destination = {"broker": role, "address": ssm.required("messaging", "destination")}
    store = ssm.file_name("messaging", "path")
    if role == SENDER:
        root, shipper = _sender(ssm, store)
    else:
        root, shipper = _receiver(ssm, store, dn_file or DEFAULT_DN_FILE)
    return Config(
        path=path,
        root=root,
        brokers={role: broker},
        destinations={role: destination},
        shippers={role: shipper},
    )


def _sender(ssm: _SsmFile, store: str) -> tuple[str, dict]:
    """The outgoing store is the spool (a dirq QueueSimple), or a directory moved into one."""
    root, name = os.path.split(store.rstrip("/")) if store != "/" else ("/", "")
    path_type = ssm.get("messaging", "path_type", "dirq")
    shipper: dict = {"kind": "ship", "destination": SENDER, "spool": name, "sign": True}
    if path_type == "directory":
        shipper["spool"] = name + SENDING_SUFFIX
        shipper["dropbox"] = store
    elif path_type != "dirq":
        raise ssm.error("messaging", "path_type", f"must be dirq or directory, not {path_type!r}")
    if ssm.get("certificates", "server_cert", None):
        shipper["encrypt_to"] = ssm.file_name("certificates", "server_cert")
    shipper["security"] = ssm.security()
    return root, shipper


def _receiver(ssm: _SsmFile, store: str, dn_file: str) -> tuple[str, dict]:
    """SSM's incoming and reject stores under ``path``; spoolq's own state in ``path/spoolq``."""
    _check_dn_file(dn_file)
    security = {**ssm.security(), "allow_list": os.path.abspath(dn_file)}
    if ssm.boolean("certificates", "check_crls", False):
        security["check_crls"] = True
    shipper = {
        "kind": "receive",
        "destination": RECEIVER,
        "spool": "incoming",
        "verify": True,
        "ssm_store": store,
        "security": security,
    }
    return os.path.join(store, "spoolq"), shipper


def _check_dn_file(path: str) -> None:
    """As ``ssmreceive`` does: at least one DN (a line starting with ``/``), or no start."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line.strip() for line in handle]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the DN file: {exc}") from None
    if not any(line.startswith("/") for line in lines):
        raise ConfigError(f"{path}: no valid DNs (lines starting with '/'): nobody could send")


def _parse(path: str, text: bytes | None) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    try:
        parser.read_string((read_bytes(path) if text is None else text).decode("utf-8"), source=path)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not an SSM configuration: not UTF-8 text ({exc.reason})") from None
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not an SSM configuration: {first}") from None
    return parser


class _SsmFile:
    """One parsed SSM file: typed look-ups whose errors name the file, section and key."""

    def __init__(self, path: str, parser: configparser.ConfigParser, role: str):
        self.path, self.parser, self.role = path, parser, role

    def error(self, section: str, key: str, what: str) -> ConfigError:
        return ConfigError(f"{self.path}: [{section}] {key}: {what}")

    def check_keys(self) -> None:
        """Refuse AMS, the BDII, and any section or key SSM 4's ``role`` does not read."""
        known = KEYS[self.role]
        defaults = self.parser.defaults()
        for key in defaults:
            raise self.error("DEFAULT", key, "keys in [DEFAULT] are not supported: move it to its section")
        for section in self.parser.sections():
            if section not in known:
                expected = ", ".join(f"[{s}]" for s in known)
                what = f"not a section of {self.role}'s file ({expected})"
                raise ConfigError(f"{self.path}: [{section}]: {what}")
            for key in self.parser[section]:
                if (section, key) in UNSUPPORTED:
                    raise self.error(section, key, UNSUPPORTED[section, key])
                if key not in known[section]:
                    keys = ", ".join(known[section])
                    raise self.error(section, key, f"not a key {self.role} reads ({keys})")
        section = "sender" if self.role == SENDER else "receiver"
        protocol = self.get(section, "protocol", "STOMP")
        if protocol == "AMS":
            raise self.error(section, "protocol", "AMS (Argo Messaging Service) is not supported: use STOMP")
        if protocol != "STOMP":
            raise self.error(section, "protocol", f"must be STOMP, not {protocol!r}")

    def get(self, section: str, key: str, default: str | None) -> str | None:
        try:
            return self.parser.get(section, key)
        except (configparser.NoSectionError, configparser.NoOptionError):
            return default
        except configparser.Error as exc:  # a bad %-interpolation
            raise self.error(section, key, str(exc).splitlines()[0]) from None

    def required(self, section: str, key: str) -> str:
        value = self.get(section, key, None)
        if not value:
            raise self.error(section, key, f"is required by {self.role}")
        return value

    def boolean(self, section: str, key: str, default: bool) -> bool:
        value = self.get(section, key, None)
        if value is None:
            return default
        if value.lower() not in configparser.ConfigParser.BOOLEAN_STATES:
            raise self.error(section, key, f"must be true or false, not {value!r}")
        return configparser.ConfigParser.BOOLEAN_STATES[value.lower()]

    def broker(self) -> dict:
        """``[broker]``: one host and port; TLS (SSM's default) with the host's certificate."""
        host = self.required("broker", "host")
        port = self.required("broker", "port")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise self.error("broker", "port", f"must be a port number, not {port!r}")
        broker: dict = {"hosts": [f"{host}:{port}"]}
        if self.boolean("broker", "use_ssl", True):  # as SSM: true unless set otherwise
            broker["use_tls"] = True
            broker["ca_path"] = self.file_name("certificates", "capath")
            broker["cert_file"] = self.file_name("certificates", "certificate")
            broker["key_file"] = self.file_name("certificates", "key")
        return broker

    def security(self) -> dict:
        """``[certificates]``: the host's certificate and key (sign, decrypt), the CA directory."""
        return {
            "cert": self.file_name("certificates", "certificate"),
            "key": self.file_name("certificates", "key"),
            "ca_path": self.file_name("certificates", "capath"),
        }

    def file_name(self, section: str, key: str) -> str:
        """A required file name; a relative one is taken, as SSM takes it, from the working directory."""
        return os.path.abspath(self.required(section, key))
