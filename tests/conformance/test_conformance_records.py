"""The transcription is complete and points at the seeds: one record per sample, each at its heading.

Only here is the seed text read, and only to count sample headings and to check that a
record's line numbers land on the right lines; the samples themselves come from the data files.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conformance.records import (
    SEEDS,
    Record,
    all_records,
    data_file,
    json_kind,
    params,
    records,
    resolve,
    response_for,
    seed_lines,
)

Match = Callable[[str], bool]


def _is(text: str) -> Match:
    return lambda line: line.strip() == text


#: per seed and record kind, how its sample headings are recognised in the seed text.
HEADINGS: dict[str, dict[str, Match]] = {
    "000": {"request": _is("Request samples"), "response": _is("Response samples")},
    "001": {
        "request": _is("Example request:"),
        "response": _is("Example response:"),
        "filter_example": lambda line: line.startswith("Example filter using") or "following example" in line,
    },
    "002": {"request": _is("Request example"), "response": _is("Response body")},
    "003": {"request": _is("URI"), "response": _is("Example Response JSON")},
}
ENDPOINT_PREFIXES = ("post/", "get/", "patch/")


def lines_where(seed: str, match: Match) -> list[int]:
    return [number for number, line in enumerate(seed_lines(seed), start=1) if match(line)]


def line(record: Record, number: int) -> str:
    return seed_lines(record["seed_key"])[number - 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_sample_of_the_seed_has_a_record(seed):
    for kind, match in HEADINGS[seed].items():
        in_seed = lines_where(seed, match)
        transcribed = sorted(r["line"] for r in records(kind, seed))
        assert in_seed, f"seed {seed}: no {kind} heading found; the heading rule is out of date"
        assert transcribed == in_seed, (
            f"seed {seed}: {kind} samples at lines {in_seed}, records at {transcribed}"
        )


def test_every_endpoint_heading_of_seed_000_is_accounted_for():
    headings = lines_where("000", lambda text: text.startswith(ENDPOINT_PREFIXES))
    with_samples = {r["endpoint_line"] for r in data_file("000")["records"]}
    without = {e["endpoint_line"] for e in data_file("000")["endpoints_without_samples"]}
    assert not with_samples & without
    assert sorted(with_samples | without) == headings


def test_seed_001_lists_the_three_churn_histograms():
    for endpoint in data_file("001")["endpoints"]:
        assert seed_lines("001")[endpoint["line"] - 1].strip() == f"POST {endpoint['endpoint']}"


def test_seed_000_header_parameters_are_the_transcribed_ones():
    headers = data_file("000")["headers"]
    first, last = headers["lines"]
    text = seed_lines("000")[first - 1 : last]
    for name, example in headers["values"].items():
        at = text.index(name)
        assert text[at + 2] == f"Example: {example}", f"{name}: the seed's example is {text[at + 2]!r}"


@pytest.mark.parametrize("record", params(all_records()))
def test_record_points_at_its_heading(record):
    assert record["heading"] in line(record, record["line"])
    if record["kind"] != "filter_example":
        assert line(record, record["line"]).strip() == record["heading"]


@pytest.mark.parametrize("record", params(r for r in all_records() if r["kind"] != "filter_example"))
def test_record_points_at_its_endpoint_and_status(record):
    endpoint_text = line(record, record["endpoint_line"]).strip()
    seed = record["seed_key"]
    expected = {
        "000": f"{record['method'].lower()}{record['endpoint']}",
        "001": record.get("request_line_text") or f"{record['method']} {record['endpoint']}  HTTP/1.1",
        "002": f"{record['endpoint']} |",
        "003": f"{record['method']} {record['endpoint']}",
    }[seed]
    assert endpoint_text == expected or (seed == "003" and endpoint_text.startswith(f"{expected}?"))
    if seed == "002":
        assert line(record, record["method_line"]).strip() == f"{record['method']} |"
    assert str(record["status"]) in line(record, record["status_line"])


@pytest.mark.parametrize("record", params(r for r in all_records() if r.get("body_lines")))
def test_record_body_lines_frame_the_sample(record):
    first, last = (line(record, n).strip() for n in record["body_lines"])
    if record.get("braces_implied"):
        assert first.startswith('"') and last.startswith('"'), (first, last)
    else:
        assert first.startswith("{") and last.endswith("}"), (first, last)


@pytest.mark.parametrize("record", params(records("filter_example")))
def test_filter_example_names_the_property_the_seed_describes(record):
    assert record["property_text"] in line(record, record["property_line"])


@pytest.mark.parametrize("record", params(r for r in all_records() if r.get("parameters")))
def test_fusionauth_parameters_point_at_the_parameter_table(record):
    for name, parameter in record["parameters"].items():
        text = line(record, parameter["line"]).strip()
        required = "Required" if parameter["required"] else "Optional"
        assert text == f"{name} [{parameter['type']}] {required}"


@pytest.mark.parametrize("record", params(r for r in all_records() if r.get("interval_line")))
def test_fusionauth_interval_unit_is_the_seeds(record):
    assert f"number of {record['interval_unit']}s since Epoch" in line(record, record["interval_line"])


# -- the records agree with themselves (no seed needed) ----------------------------------------------


@pytest.mark.parametrize("record", params(all_records()))
def test_elided_values_are_kept_empty(record):
    body = record.get("request", record.get("response", record.get("filter")))
    for pointer, form in record.get("elided", {}).items():
        value = resolve(body, pointer)
        assert value in ({}, []), f"{pointer}: an elided value must stay empty, got {value!r}"
        assert form in ("collapsed", "inline")


@pytest.mark.parametrize("record", params(records("response")))
def test_response_record_keys_are_its_samples(record):
    if record.get("absent"):
        assert record["response"] is None and record["keys"] == [] and record["body_lines"] is None
    else:
        assert json_kind(record["response"]) == "object"
        assert record["keys"] == list(record["response"])


@pytest.mark.parametrize("record", params(records("request")))
def test_request_record_names_its_endpoints_response(record):
    response = response_for(record)
    if response is None:
        assert record["response_keys"] == []
        return
    assert response["kind"] == "response"
    assert (response["method"], response["endpoint"]) == (record["method"], record["endpoint"])
    assert record["response_keys"] == response["keys"]
    assert record["status"] == response["status"]
