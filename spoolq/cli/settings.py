"""What every command needs to know: where the spool root and configuration are."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spoolq.config import Config, find_config, load_config
from spoolq.config.source import take_handed_down
from spoolq.errors import ConfigError
from spoolq.spool import SpoolRoot
from spoolq.spool.root import ROOT_MARKER


@dataclass
class Settings:
    """Resolved lazily, so that ``--help`` works without any configuration."""

    root_option: str | None
    config_option: str | None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            # Under `spoolq run`: the bytes the supervisor applied, not the file as it is now
            # (which may be half edited, or gone).
            text = take_handed_down()
            path = self.config_option if text is not None else find_config(self.config_option)
            self._config = load_config(path, text)
        return self._config

    def use_config(self, config: Config) -> None:
        """Run with ``config``, read from elsewhere (APEL SSM's file), instead of ``--config``'s."""
        self._config = config

    def apply_umask(self) -> None:
        """A daemon starting: take the configuration's ``umask`` (none set: keep the process's).

        Spools, elements and state files are then created without the bits
        it masks, whatever umask the daemon was started with.
        """
        if self.config.umask is not None:
            os.umask(self.config.umask)

    def root(self, *, existing: bool = True) -> SpoolRoot:
        """The spool root: ``--root``, then ``SPOOLQ_ROOT``, then the configuration.

        With ``existing`` (commands that read or add to a root), the directory
        must be recognisable as a root (:meth:`SpoolRoot.looks_like_root`): a
        mistyped path is refused, not shown as an empty, healthy root.  Commands
        that create one (``init``, the daemons) pass ``existing=False``.
        """
        config = self.config
        path = self.root_option or config.root
        if not path:
            raise ConfigError(
                "no spool root: give --root, set SPOOLQ_ROOT, or set 'root' in the configuration file"
            )
        root = SpoolRoot(path, durable=config.durable, granularity=config.granularity)
        if existing and not root.looks_like_root():
            what = "not a spool root" if os.path.isdir(path) else "no such spool root"
            raise ConfigError(
                f"{path}: {what} (no {ROOT_MARKER} marker, no spool in use): "
                "check --root or SPOOLQ_ROOT, or create it with 'spoolq init SPOOL...'"
            )
        return root
