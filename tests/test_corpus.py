"""Replay every nasty input of ``tests/corpus/`` through every parser of outside bytes.

A plain test beside the property-based ones: these inputs are kept, so a
crash once found stays found, whatever hypothesis happens to draw.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from parsers import ADMISSION_ERRORS, FRAME_HEADERS, PARSERS, parse_only_with, receiver

CORPUS = Path(__file__).parent / "corpus"
INPUTS = sorted(path for path in CORPUS.iterdir() if path.name != "README.md")


@pytest.fixture(scope="module")
def admitting(tmp_path_factory):
    return receiver(tmp_path_factory.mktemp("receiver"))


def test_the_corpus_holds_the_inputs_it_promises():
    names = {path.name for path in INPUTS}
    assert {"deep-nesting-in-header.json", "deep-nesting-in-body.json", "many-headers.json", "empty"} <= names


@pytest.mark.parametrize("path", INPUTS, ids=[path.name for path in INPUTS])
def test_every_parser_raises_only_its_documented_error(path, admitting):
    data = path.read_bytes()
    for parse, allowed in PARSERS.values():
        parse_only_with(parse, allowed, data)
    for headers in FRAME_HEADERS:
        parse_only_with(lambda body, headers=headers: admitting._admit(headers, body), ADMISSION_ERRORS, data)
