"""``spoolq config from-ssm``: APEL SSM's ``sender.cfg`` or ``receiver.cfg`` written as spoolq TOML.

The TOML holds the very tables ``spoolq ship --ssm-config`` (``receive``)
runs from the same file (:mod:`spoolq.config.ssm`), so the two behave alike;
the TOML is the file to keep and extend (more shippers, components).
"""

from __future__ import annotations

import os

import click

from spoolq.cli.group import main
from spoolq.config.ssm import DEFAULT_DN_FILE, RECEIVER, load_ssm_config, role_of
from spoolq.config.toml_text import dumps
from spoolq.errors import ConfigError


@main.group("config")
def config_group() -> None:
    """Convert other tools' configuration files to spoolq's TOML."""


@config_group.command("from-ssm")
@click.argument("ssm_config", type=click.Path(dir_okay=False))
@click.option(
    "--dns",
    "dn_file",
    type=click.Path(dir_okay=False),
    help=f"A receiver's DN file (ssmreceive -d) [default {DEFAULT_DN_FILE}].",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the TOML here, not to stdout.")
def from_ssm(ssm_config: str, dn_file: str | None, output: str | None) -> None:
    """Print (or write) the spoolq TOML equivalent to SSM's SENDER.CFG or RECEIVER.CFG."""
    role = role_of(ssm_config)
    config = load_ssm_config(ssm_config, role, dn_file)
    command = "receive" if role == RECEIVER else "ship"
    target = output or "FILE"
    header = (
        f"# spoolq configuration converted from APEL SSM's {os.path.abspath(ssm_config)}\n"
        f"# run in place of {role}: spoolq -c {target} {command} --shipper {role}\n\n"
    )
    text = header + dumps(
        {
            "root": config.root,
            "brokers": config.brokers,
            "destinations": config.destinations,
            "shippers": config.shippers,
        }
    )
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(f"{output}: already exists; not overwritten") from None
    except OSError as exc:
        raise ConfigError(f"{output}: cannot write: {exc.strerror}") from None
