"""The configuration: one TOML file (or a PanDA/JEDI JSON processor file), validated at load.

Errors name the file, the key path (``components.pe.workers``) and what is
wrong.  The reference of every key is docs/operations.md and the annotated
``spoolq.example.toml``.
"""

from spoolq.config.files import DEFAULT_LOCATIONS, find_config, load_config
from spoolq.config.model import ComponentConfig, Config, RetryPolicy
from spoolq.config.toml_file import read_toml

__all__ = [
    "DEFAULT_LOCATIONS",
    "ComponentConfig",
    "Config",
    "RetryPolicy",
    "find_config",
    "load_config",
    "read_toml",
]
