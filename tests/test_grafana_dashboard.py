"""contrib/grafana-spoolq.json queries only metrics that a real node exports.

The names are read from the dashboard's PromQL expressions, and the exported
names from a real ``spoolq run`` (a component, a sending and a receiving
shipper, the broker) scraped on its ``/metrics``: a renamed metric, or a
panel querying one that was never written, fails here rather than showing
"No data" on an operator's screen.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spoolq.spool.parking import park
from spoolq.testbed.shipping import unique, write_node_config
from tests.run_helpers import component_table, running
from tests.waiting import wait_until

DASHBOARD = Path(__file__).resolve().parent.parent / "contrib" / "grafana-spoolq.json"
#: PromQL words that are not metric names (functions are told apart by the "(" after them).
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
)
KEYWORDS |= {"offset", "Inf", "NaN", "inf", "nan"}


def expressions(dashboard: dict) -> list[str]:
    """Every PromQL expression of every panel (rows' panels too) and of the template variables."""
    found = []
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        found.extend(target["expr"] for target in panel.get("targets", []))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append(re.fullmatch(r"label_values\((.*), *\w+\)", variable["definition"]).group(1))
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range durations
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)  # label lists
    names = set()
    for word in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        if word.group() in KEYWORDS or expr[word.end() :].lstrip().startswith("("):
            continue  # a keyword, or a function called
        names.add(word.group())
    return names


def test_metric_names_are_read_from_promql():
    expr = 'histogram_quantile(0.99, sum by (le, x) (rate(a_bucket{i=~"$i", s="b{c}"}[5m]))) / on(x) b'
    assert metric_names(expr) == {"a_bucket", "b"}
    assert metric_names("time() - c_seconds") == {"c_seconds"}


def test_the_dashboard_is_grafana_json_with_a_query_in_every_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "spoolq"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and all(p.get("targets") for p in panels)
    assert all(metric_names(expr) for expr in expressions(dashboard)), "every expression selects a metric"


@pytest.mark.timeout(120)
def test_every_metric_the_dashboard_queries_is_exported_by_a_real_node(tmp_path, broker):
    dashboard = json.loads(DASHBOARD.read_text())
    queried = set().union(*(metric_names(expr) for expr in expressions(dashboard)))
    assert all(name.startswith("spoolq_") for name in queried), queried
    config = write_node_config(
        tmp_path / "a",
        unique("a"),
        broker,
        top_extra=f'metrics_interval = 0.2\nmetrics_listen = "127.0.0.1:0"\n{component_table("pe")}',
    )
    with running(tmp_path / "a") as start:
        run = start(config=config)
        url = run.wait_for_log(r"serving metrics on (http://\S+/metrics)", timeout=60)[0].group(1)
        run.wait_for_log("all 1 component and 2 shippers ready", timeout=60)
        park(run.root, "pe", b"not an envelope", "malformed")
        run.ask("pe")

        def exported() -> set[str]:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
            return {s.name for family in text_string_to_metric_families(text) for s in family.samples}

        wait_until(lambda: queried <= exported(), 60, f"every queried metric exported: {sorted(queried)}")
