"""The benchmark suite's arithmetic: billed cost per million requests, and its results file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench import bench_module

cost = bench_module("cost")
results_table = bench_module("results_table")


def test_duration_is_billed_rounded_up_to_the_next_millisecond() -> None:
    assert cost.Invocation("proxy", 1.001, 512).billed_ms == 2
    assert cost.Invocation("proxy", 2.0, 512).billed_ms == 2


def test_gb_seconds_per_million_are_invocations_times_billed_seconds_times_gigabytes() -> None:
    # 1,000,000 x 0.002 s x 0.5 GB
    assert cost.Invocation("proxy", 1.2, 512).gb_seconds_per_million() == pytest.approx(1000.0)


def test_an_invocation_share_scales_gb_seconds_and_request_charges() -> None:
    every_tenth = cost.Invocation("authorizer", 0.4, 1024, invocations_per_request=0.1)
    assert every_tenth.gb_seconds_per_million() == pytest.approx(100_000 * 0.001 * 1.0)
    assert every_tenth.requests_usd_per_million() == pytest.approx(0.1 * cost.LAMBDA_USD_PER_MILLION_REQUESTS)


def test_a_bill_adds_duration_lambda_requests_and_api_gateway_requests() -> None:
    proxy = cost.Invocation("proxy", 3.5, 512)  # 4 ms billed: 2,000 GB-s
    authorizer = cost.Invocation("authorizer", 0.3, 512)  # 1 ms billed: 500 GB-s
    bill = cost.Bill((proxy, authorizer))
    duration = 2500 * cost.LAMBDA_X86_USD_PER_GB_SECOND
    requests = 2 * cost.LAMBDA_USD_PER_MILLION_REQUESTS
    assert bill.lambda_usd() == pytest.approx(duration + requests)
    assert bill.total_usd() == pytest.approx(duration + requests + cost.HTTP_API_USD_PER_MILLION_REQUESTS)


def test_the_bill_table_ends_each_scenario_with_its_total() -> None:
    bill = cost.Bill((cost.Invocation("proxy", 1.5, 512),))
    lines = cost.bill_table([("A", bill)])
    assert lines[-1].startswith("| A | **total per million client requests**")
    assert f"**{bill.total_usd():.4f}**" in lines[-1]


def _header() -> object:
    return results_table.RunHeader("2026-11-26 08:00", 1.25, 2.5, "Some CPU, 2 CPUs", "3.11.7", "abc1234")


def test_a_run_section_states_when_and_under_which_load_it_ran() -> None:
    section = results_table.render_run(_header(), [])
    assert section.startswith("## Run 2026-11-26 08:00 UTC\n")
    assert "load average 1.25 at the start, 2.50 at the end" in section


def test_a_row_says_whether_its_goal_was_met_or_that_it_has_none() -> None:
    rows = [
        results_table.Row("1", "added latency, median", "0.2 ms", "≤ 0.3 ms", True),
        results_table.Row("1", "added latency, p99", "1.5 ms", "≤ 1 ms", False),
        results_table.Row("6", "cost", "$1.23"),
    ]
    table = results_table.render_run(_header(), rows).splitlines()[-3:]
    assert table[0] == "| 1 | added latency, median | 0.2 ms | ≤ 0.3 ms | met |  |"
    assert "| **not met** |" in table[1]
    assert table[2] == "| 6 | cost | $1.23 | - | - |  |"


def test_a_pipe_inside_a_cell_does_not_break_the_table() -> None:
    row = results_table.Row("3", "a | b", "1")
    assert "| a \\| b |" in results_table.render_run(_header(), [row])


def test_runs_are_appended_under_one_title(tmp_path: Path) -> None:
    path = tmp_path / "results" / "suite.md"
    results_table.append_run(path, "## Run one\n")
    results_table.append_run(path, "## Run two\n")
    text = path.read_text()
    assert text.count(results_table.TITLE) == 1
    assert text.index("## Run one") < text.index("## Run two")


def test_measured_invocations_are_billed_each_rounded_up_then_averaged() -> None:
    # 1.2 ms bills 2 ms and 0.8 ms bills 1 ms: 1.5 ms each on average, not the rounded median (1 ms).
    measured = cost.Invocation.measured("proxy", [1.2, 0.8, 0.9], 1024)
    assert measured.billed_ms == pytest.approx((2 + 1 + 1) / 3)
    assert measured.duration_ms == pytest.approx(0.9)


def test_lambda_charge_per_million_is_duration_plus_requests() -> None:
    invocation = cost.Invocation("proxy", 1.5, 1024)  # 2 ms billed: 2,000 GB-s
    expected = 2000 * cost.LAMBDA_X86_USD_PER_GB_SECOND + cost.LAMBDA_USD_PER_MILLION_REQUESTS
    assert invocation.lambda_usd_per_million() == pytest.approx(expected)


def test_another_results_file_starts_with_its_own_title(tmp_path: Path) -> None:
    path = tmp_path / "lambda_power.md"
    results_table.append_run(path, "## Run one\n", title="# Power tuning", intro="How to read it.")
    assert path.read_text().startswith("# Power tuning\n\nHow to read it.\n")
