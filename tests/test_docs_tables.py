"""The tables of docs/scenario-format.md, checked against the code, so that the next drift fails here.

Each key table (top level, [schedule], [costs.NAME], ...) must list exactly the keys the
parser accepts; its defaults must be what a scenario gets when the key is left out; its
ranges are probed by parsing values at and just beyond each end (the model range and, after
"every draw", the supported range); its string choices must be the ones accepted. The
supported-ranges table must equal `SUPPORTED_RANGES`, the driver table must give the drivers
a scenario produces in their order, and the lists of families and metrics must be the code's.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import tomllib
from pathlib import Path

import pytest

from simengine import metrics
from simengine.distributions import FAMILIES
from simengine.errors import ScenarioError
from simengine.scenario import (ADOPTION_KEYS, BENEFITS_KEYS, CORRELATION_KEYS, COST_KEYS, DECISION_KEYS,
                                EVENT_KEYS, PHASE_KEYS, RISK_KEYS, SCHEDULE_KEYS, STREAM_KEYS,
                                SUPPORTED_RANGES, TIMINGS, TOP_KEYS, parse_scenario, range_key)
from simengine.streams import driver_key

DOCS = Path(__file__).resolve().parents[1] / "docs"
FORMAT = (DOCS / "scenario-format.md").read_text(encoding="utf-8")
MODEL = (DOCS / "model.md").read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """'## heading' -> the text up to the next '## ' heading."""
    out, name, lines = {}, None, []
    for line in text.splitlines():
        if line.startswith("## "):
            if name is not None:
                out[name] = "\n".join(lines)
            name, lines = line[3:].strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        out[name] = "\n".join(lines)
    return out


def split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table of `text`, as rows keyed by the header's cells."""
    out, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            header = split_row(block[0])
            out.append([dict(zip(header, split_row(row))) for row in block[2:]])
        block = []
    return out


def section(title_start: str) -> str:
    found = [body for name, body in sections(FORMAT).items() if name.startswith(title_start)]
    assert len(found) == 1, f"no single section starting with {title_start!r}"
    return found[0]


def spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


# --- the key tables ---------------------------------------------------------------------------------------

#: (section heading start, table index in it, the code's keys, where the table's keys live).
KEY_TABLES = [
    ("Top level", 0, TOP_KEYS, ""),
    ("`[schedule]`", 0, SCHEDULE_KEYS, "schedule"),
    ("`[costs.NAME]`", 0, COST_KEYS, "costs.NAME"),
    ("`[risks]`", 0, RISK_KEYS, "risks"),
    ("`[adoption]`", 0, ADOPTION_KEYS, "adoption"),
    ("`[adoption]`", 1, PHASE_KEYS, "adoption.phases[0]"),
    ("`[benefits]`", 0, BENEFITS_KEYS, "benefits"),
    ("`[benefits]`", 1, STREAM_KEYS, "benefits.streams.NAME"),
    ("`[events.NAME]`", 0, EVENT_KEYS, "events.NAME"),
    ("`[[correlations]]`", 0, CORRELATION_KEYS, "correlations[0]"),
    ("`[decision]`", 0, DECISION_KEYS, "decision"),
]
#: The item each NAME stands for in the probe scenario.
ITEM = {"costs": "item", "benefits.streams": "stream", "events": "event"}
BASE = {"name": "probe", "discount_rate": 0.05, "schedule": {"planned_months": 6},
        "costs": {"item": {"timing": "implementation", "amount": 1000.0}},
        "benefits": {"streams": {"stream": {"amount": 2000.0}}},
        "events": {"event": {"probability": 0.5}}}


def rows_of(title: str, index: int) -> list[dict[str, str]]:
    return tables(section(title))[index]


def key_rows():
    for title, index, keys, prefix in KEY_TABLES:
        for row in rows_of(title, index):
            yield prefix, spans(row["key"])[0], row


def field_path(prefix: str, key: str) -> str:
    path = f"{prefix}.{key}" if prefix else key
    for group, name in ITEM.items():
        path = path.replace(f"{group}.NAME", f"{group}.{name}")
    return path


def probe_data(prefix: str, key: str) -> tuple[dict, dict]:
    """A valid scenario and the table that holds `key` (set up so that `key` is allowed there)."""
    data = copy.deepcopy(BASE)
    if prefix == "adoption.phases[0]":
        data["adoption"] = {"phases": [{"share": 1.0}]}
        return data, data["adoption"]["phases"][0]
    if prefix == "correlations[0]":
        data["costs"]["item"]["amount"] = {"dist": "uniform", "min": 1, "max": 2}
        data["schedule"]["planned_months"] = {"dist": "uniform", "min": 3, "max": 6}
        data["correlations"] = [{"drivers": ["schedule.planned_months", "costs.item.amount"], "spearman": 0.3}]
        return data, data["correlations"][0]
    table = data
    for part in field_path(prefix, "x").split(".")[:-1]:
        table = table.setdefault(part, {})
    if prefix == "adoption" and key in ("bass_p", "bass_q"):
        table["curve"] = "bass"
    if prefix == "costs.NAME" and key == "start":
        table["timing"] = "recurring"
    return data, table


@pytest.mark.parametrize("title,index,keys,prefix", KEY_TABLES, ids=[f"{t[3] or 'top'}" for t in KEY_TABLES])
def test_each_key_table_lists_exactly_the_accepted_keys(title, index, keys, prefix):
    documented = [spans(row["key"])[0] for row in rows_of(title, index)]
    assert len(documented) == len(set(documented))
    assert set(documented) == set(keys)


def canonical_at(canonical: dict, prefix: str, key: str):
    node = canonical
    if prefix == "adoption.phases[0]":
        return canonical["adoption"]["phases"][0].get(key, KeyError)
    for part in field_path(prefix, key).split(".")[:-1]:
        node = node[part]
    return node.get(key, KeyError)


DEFAULT_ROWS = [(p, k, r) for p, k, r in key_rows() if "default" in r]


@pytest.mark.parametrize("prefix,key,row", DEFAULT_ROWS, ids=[field_path(p, k) for p, k, _ in DEFAULT_ROWS])
def test_defaults_are_what_a_scenario_gets_without_the_key(prefix, key, row):
    default, kind = row["default"], row["type"]
    data, table = probe_data(prefix, key)
    table.pop(key, None)
    path = field_path(prefix, key)
    if "**required**" in default:
        with pytest.raises(ScenarioError) as exc:
            parse_scenario(data)
        assert str(exc.value).startswith(path), exc.value
        return
    if kind in ("table",):  # a sub-table: its own keys' defaults are checked in its table
        return
    sc = parse_scenario(data)
    if default == "none":
        assert canonical_at(sc.canonical, prefix, key) is KeyError
        return
    values = spans(default)
    if len(values) > 1:  # overrun: `true` for upfront and implementation, `false` for recurring
        assert key == "overrun", default
        for timing, want in (("upfront", True), ("implementation", True), ("recurring", False)):
            data, table = probe_data(prefix, key)
            table.update(timing=timing)
            table.pop("overrun", None)
            assert canonical_at(parse_scenario(data).canonical, prefix, key) is want
        return
    want = tomllib.loads(f"v = {values[0]}")["v"]
    if kind == "**dist**":
        dist = sc.fields()[path]
        assert dist.is_fixed and dist.params["value"] == want, (path, dist, want)
    elif key in ("costs", "events", "streams", "correlations"):
        assert canonical_at(sc.canonical, prefix, key) in ({}, []) and want in ({}, [])
    else:
        assert canonical_at(sc.canonical, prefix, key) == want, (path, want)


def parse_number(text: str) -> float | int:
    """A number of a range cell; whole numbers stay exact Python ints (2^63-1 is not a float)."""
    text = text.strip()
    if text == "2^63-1":
        return 2 ** 63 - 1
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def interval(text: str) -> tuple[float, float, bool, bool]:
    """(low, high, low open, high open) from 'any number', '> a', '≥ a', '≤ b', 'a .. b', 'in (a, b]'."""
    text = text.strip()
    if text.startswith("any number"):
        return -math.inf, math.inf, False, False
    if m := re.fullmatch(r"in ([(\[])(.+), (.+)([)\]])", text):
        return parse_number(m[2]), parse_number(m[3]), m[1] == "(", m[4] == ")"
    if m := re.fullmatch(r"(.+) \.\. (.+)", text):
        return parse_number(m[1]), parse_number(m[2]), False, False
    if m := re.fullmatch(r"(>|≥|≤) (.+)", text):
        x = parse_number(m[2])
        return (x, math.inf, m[1] == ">", False) if m[1] != "≤" else (-math.inf, x, False, False)
    raise AssertionError(f"cannot read the range {text!r}")


def inside(x: float, bounds) -> bool:
    low, high, low_open, high_open = bounds
    return (low < x if low_open else low <= x) and (x < high if high_open else x <= high)


def range_parts(cell: str):
    """(model interval, supported interval or None) of a range cell: 'model; every draw supported; ...'."""
    parts = [p.strip() for p in cell.split(";")]
    supported = [p[len("every draw"):] for p in parts if p.startswith("every draw")]
    assert len(supported) <= 1
    return interval(parts[0]), (interval(supported[0]) if supported else None)


def range_header(row: dict) -> str:
    (name,) = [k for k in row if k.startswith("range")]
    return name


NUMERIC_ROWS = [(p, k, r) for p, k, r in key_rows()
                if r["type"] in ("**dist**", "integer", "number") and any(h.startswith("range") for h in r)]


def probes(bounds, whole: bool) -> list[float]:
    out = [-1e300, 1e300]
    for end in bounds[:2]:
        if math.isfinite(end):
            out += [end - 1, end, end + 1] if whole else [math.nextafter(end, -math.inf), end,
                                                          math.nextafter(end, math.inf)]
    return out


@pytest.mark.parametrize("prefix,key,row", NUMERIC_ROWS, ids=[field_path(p, k) for p, k, _ in NUMERIC_ROWS])
def test_ranges_accept_and_refuse_exactly_what_they_say(prefix, key, row):
    model, supported = range_parts(row[range_header(row)])
    whole = row["type"] == "integer"
    path = field_path(prefix, key)
    if row["type"] == "**dist**":
        want = SUPPORTED_RANGES.get(range_key(path))
        assert (supported[:2] if supported else None) == want, f"{path}: the code's supported range is {want}"
    for x in probes(model, whole) + (probes(supported, whole) if supported else []):
        value = int(x) if whole and abs(x) < 2 ** 64 else float(x)
        data, table = probe_data(prefix, key)
        table[key] = value
        try:
            parse_scenario(data)
            refused = None
        except ScenarioError as exc:
            # another rule may object to the value (phase shares must sum to 1): only this field's counts
            refused = str(exc) if str(exc).startswith((f"{path}:", f"{path}.")) else None
        expected = inside(value, model) and (supported is None or inside(value, supported))
        assert (refused is None) == expected, (path, value, refused)


CHOICE_ROWS = [(p, k, r) for p, k, r in key_rows() if r["type"] == "string" and len(spans(r[range_header(r)])) > 1]


@pytest.mark.parametrize("prefix,key,row", CHOICE_ROWS, ids=[field_path(p, k) for p, k, _ in CHOICE_ROWS])
def test_string_choices_are_the_accepted_ones(prefix, key, row):
    choices = [tomllib.loads(f"v = {s}")["v"] for s in spans(row[range_header(row)])]
    for choice in choices:
        data, table = probe_data(prefix, key)
        table[key] = choice
        if key == "curve":
            table.pop("ramp_months", None)
        parse_scenario(data)
    data, table = probe_data(prefix, key)
    table[key] = "bogus"
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    assert str(exc.value).startswith(f"{field_path(prefix, key)}: must be one of {', '.join(choices)}, got 'bogus'")


def test_the_model_lists_every_cost_timing():
    (timing_table,) = [t for t in tables(sections(MODEL)["Costs"]) if "timing" in t[0]]
    assert [spans(row["timing"])[0] for row in timing_table] == list(TIMINGS)


# --- supported ranges ---------------------------------------------------------------------------------------

def test_the_supported_ranges_table_is_the_code():
    (table,) = tables(section("Supported ranges"))
    documented = {}
    for row in table:
        low, high, low_open, high_open = interval(row["every draw"])
        assert not (low_open or high_open)
        for field in spans(row["field"]):
            assert field not in documented, field
            documented[field] = (low, high)
        assert len(row["why"]) > 40, row  # each range gives its reason
    assert documented == SUPPORTED_RANGES


def test_every_supported_range_appears_in_its_key_table():
    mentioned = {range_key(field_path(p, k)) for p, k, r in key_rows()
                 if any(h.startswith("range") for h in r) and "every draw" in r[range_header(r)]}
    assert mentioned == set(SUPPORTED_RANGES)


# --- drivers, families, metrics, streams -----------------------------------------------------------------------

def uniform(lo, hi):
    return {"dist": "uniform", "min": lo, "max": hi}


def everything_sampled(curve: str) -> dict:
    """A scenario in which every field that can be a distribution is one (two items of each kind)."""
    adoption = {"ceiling": uniform(0.5, 1), "curve": curve}
    if curve == "bass":
        adoption.update(bass_p=uniform(0.01, 0.05), bass_q=uniform(0.2, 0.5))
    else:
        adoption.update(ramp_months=uniform(2, 6))
    event = {"probability": uniform(0.1, 0.2), "cost": uniform(1, 2), "delay_months": uniform(0, 1),
             "benefit_loss": uniform(0, 0.1)}
    return {
        "name": "all", "discount_rate": uniform(0, 0.1),
        "schedule": {"planned_months": uniform(3, 9), "delay_months": uniform(0, 2),
                     "delay_cost_per_month": uniform(0, 10)},
        "costs": {"c1": {"timing": "upfront", "amount": uniform(1, 2)},
                  "c2": {"timing": "recurring", "amount": uniform(1, 2)}},
        "risks": {"cost_overrun": uniform(0, 0.5), "schedule_overrun": uniform(0, 0.5),
                  "maintenance_load": uniform(0, 0.2), "maintenance_cap": uniform(0.3, 0.5)},
        "adoption": adoption,
        "benefits": {"realization": uniform(0.5, 1), "streams": {"s1": {"amount": uniform(1, 2)},
                                                                  "s2": {"amount": uniform(1, 2)}}},
        "events": {"e1": copy.deepcopy(event), "e2": copy.deepcopy(event)},
    }


def documented_drivers(curve: str, names: dict[str, list[str]]) -> list[str]:
    """The driver table, expanded for one curve and the given item names, in its order."""
    (table,) = tables(section("Drivers: names and order"))
    out, per_event, occurred = [], [], []
    for row in table:
        when = row["when it is a driver"]
        if 'curve = "bass"' in when and curve != "bass":
            continue
        if '"linear"' in when and curve == "bass":
            continue
        patterns, head = [], ""
        for span in spans(row["driver"]):
            if span.startswith("."):
                span = head + span
            head = span.rsplit(".", 1)[0]
            patterns.append(span)
        for pattern in patterns:
            group = next((g for g in ("costs", "benefits.streams", "events") if pattern.startswith(g + ".NAME")), None)
            if group is None:
                out.append(pattern)
            elif pattern.endswith(".occurred"):
                occurred += [pattern.replace("NAME", n) for n in names[group]]
            elif group == "events":
                per_event.append(pattern)
            else:
                out += [pattern.replace("NAME", n) for n in names[group]]
    out += [p.replace("NAME", n) for n in names["events"] for p in per_event]
    return out + occurred


@pytest.mark.parametrize("curve", ["linear", "logistic", "bass"])
def test_the_driver_table_gives_every_driver_in_order(curve):
    sc = parse_scenario(everything_sampled(curve))
    names = {"costs": ["c1", "c2"], "benefits.streams": ["s1", "s2"], "events": ["e1", "e2"]}
    assert sc.drivers() == documented_drivers(curve, names)


def test_fixed_fields_are_not_drivers_and_fixed_probabilities_have_no_occurrence():
    data = everything_sampled("linear")
    data["events"]["e1"]["probability"] = 1.0
    data["discount_rate"] = 0.05
    drivers = parse_scenario(data).drivers()
    assert "discount_rate" not in drivers and "events.e1.occurred" not in drivers and "events.e2.occurred" in drivers


def test_the_metric_columns_are_listed_in_order():
    text = section("Drivers: names and order")
    m = re.search(r"between `trial` and the metrics \(([^)]*)\)", text, re.S)
    assert m, "the list of metric columns is missing"
    assert spans(m[1]) == list(metrics.names())


def test_the_families_are_listed_and_described():
    body = section("Distribution families")
    m = re.search(r"The list of families is fixed: (.*?)\. Every family", body, re.S)
    assert m and spans(m[1]) == list(FAMILIES)
    described = re.findall(r"^### `([a-z_]+)`", body, re.M)
    assert sorted(described) == sorted(FAMILIES)


def test_streams_are_keyed_by_the_sha256_of_the_driver_name():
    """scenario-format.md once said CRC-32; model.md, the metadata and streams.py say SHA-256."""
    for text in (FORMAT, MODEL):
        assert "CRC" not in text
        assert "SHA-256" in text
    for name in ("costs.integration.amount", "events.x.occurred", "é"):
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        assert driver_key(name) == tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def test_the_complete_example_is_valid_and_has_the_drivers_it_states():
    from simengine.scenario import loads_scenario

    body = section("A complete example")
    (example,) = re.findall(r"```toml\n(.*?)```", body, re.S)
    sc = loads_scenario(example)
    m = re.search(r"`simengine validate` reports (\d+) sampled drivers", body)
    assert m and int(m[1]) == len(sc.drivers())
    for name in re.findall(r"They include\s+`([^`]+)`", body):
        assert name in sc.drivers()
    for name in re.findall(r"but not `([^`]+)` or\s+`([^`]+)`", body)[0]:
        assert name not in sc.drivers()
