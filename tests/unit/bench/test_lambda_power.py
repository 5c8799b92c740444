"""The power-tuning bench (bench/lambda_power.py): CPU shares, the cgroup counters it reads, the
emulator's durations, the recommendation, and the stages of its profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.bench import bench_module

timing = bench_module("timing")
cost = bench_module("cost")
cgroup_cpu = bench_module("cgroup_cpu")
lambda_container = bench_module("lambda_container")
lambda_report = bench_module("lambda_report")
for neighbour in (
    "harness",
    "arms",
    "profiling",
    "folded",
    "process_cpu",
    "lambda_scenarios",
    "results_table",
):
    bench_module(neighbour)
lambda_profile = bench_module("lambda_profile")
lambda_scenarios = bench_module("lambda_scenarios")

CONTAINER = "/docker/0123abcd"


def test_one_vcpu_at_1769_mb_and_a_share_in_proportion_elsewhere() -> None:
    assert lambda_container.cpu_share(1769) == 1.0
    assert lambda_container.cpu_share(512) == pytest.approx(0.289, abs=0.001)
    assert lambda_container.cpu_share(3008) == pytest.approx(1.700, abs=0.001)


def test_each_invocations_duration_is_read_from_the_emulators_report_lines() -> None:
    log = (
        "START RequestId: a Version: $LATEST\n"
        "REPORT RequestId: a\tInit Duration: 0.06 ms\tDuration: 1365.06 ms\tBilled Duration: 1366 ms\t\n"
        '{"level": "INFO", "message": "request"}\n'
        "REPORT RequestId: b\tDuration: 1.48 ms\tBilled Duration: 2 ms\tMemory Size: 1769 MB\t\n"
    )
    assert [float(value) for value in lambda_container.REPORT.findall(log)] == [1365.06, 1.48]


def _fake_proc(root: Path, membership: str, mounts: list[str]) -> Path:
    proc = root / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "self").mkdir()
    (proc / "42" / "cgroup").write_text(membership)
    (proc / "self" / "mountinfo").write_text("\n".join(mounts) + "\n")
    return proc


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def test_cgroup_v1_with_cpu_and_cpuacct_mounted_apart(tmp_path: Path) -> None:
    sys_fs = tmp_path / "cgroup"
    proc = _fake_proc(
        tmp_path,
        f"4:memory:{CONTAINER}\n2:cpuacct:{CONTAINER}\n1:cpu:{CONTAINER}\n0::{CONTAINER}\n",
        [
            f"32 31 0:29 / {sys_fs}/cpu rw,relatime - cgroup cgroup rw,cpu",
            f"33 31 0:30 / {sys_fs}/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
            f"35 31 0:32 / {sys_fs}/memory rw,relatime - cgroup cgroup rw,memory",
            f"41 31 0:38 / {sys_fs}/unified rw,relatime - cgroup2 cgroup2 rw",
        ],
    )
    cpu_stat = "nr_periods 10\nnr_throttled 4\nthrottled_time 7000000\nnr_bursts 0\n"
    _write(sys_fs / "cpu" / CONTAINER.lstrip("/"), {"cpu.stat": cpu_stat, "cgroup.procs": "7\n9\n"})
    _write(sys_fs / "cpuacct" / CONTAINER.lstrip("/"), {"cpuacct.usage": "25326213\n"})
    _write(sys_fs / "memory" / CONTAINER.lstrip("/"), {"memory.max_usage_in_bytes": "3805184\n"})

    files = cgroup_cpu.cgroup_files(42, proc=proc)

    assert files.version == 1
    assert files.read_cpu() == cgroup_cpu.CpuReading(25_326_213, 10, 4, 7_000_000)
    assert files.read_memory_peak() == 3_805_184
    assert files.pids() == [7, 9]


def test_cgroup_v2_counts_in_microseconds(tmp_path: Path) -> None:
    sys_fs = tmp_path / "cgroup"
    proc = _fake_proc(tmp_path, f"0::{CONTAINER}\n", [f"28 23 0:26 / {sys_fs} rw - cgroup2 cgroup2 rw"])
    stat = (
        "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 40\n"
    )
    _write(sys_fs / CONTAINER.lstrip("/"), {"cpu.stat": stat, "cgroup.procs": "7\n"})

    files = cgroup_cpu.cgroup_files(42, proc=proc)

    assert files.version == 2
    assert files.read_cpu() == cgroup_cpu.CpuReading(2_500_000, 3, 1, 40_000)
    assert files.read_memory_peak() is None  # a kernel without memory.peak


def test_a_hierarchy_mounted_from_a_sub_group_is_read_below_its_mount(tmp_path: Path) -> None:
    sys_fs = tmp_path / "cgroup"
    proc = _fake_proc(
        tmp_path, f"0::/outer{CONTAINER}\n", [f"28 23 0:26 /outer {sys_fs} rw - cgroup2 cgroup2 rw"]
    )
    _write(sys_fs / CONTAINER.lstrip("/"), {"cpu.stat": "usage_usec 1\n", "cgroup.procs": ""})

    assert cgroup_cpu.cgroup_files(42, proc=proc).read_cpu().usage_ns == 1000


def test_a_reading_minus_an_earlier_one_is_what_happened_in_between() -> None:
    earlier, later = cgroup_cpu.CpuReading(100, 2, 1, 10), cgroup_cpu.CpuReading(350, 5, 1, 30)
    assert later - earlier == cgroup_cpu.CpuReading(250, 3, 0, 20)


def _phase(p99_ms: float, reported_ms: float = 1.5, cpu_ms: float = 1.0, count: int = 100) -> Any:
    slowest = count // 50  # the slowest 2%: the 99th percentile is one of them
    latencies = [1_000_000] * (count - slowest) + [int(p99_ms * 1e6)] * slowest
    cpu = cgroup_cpu.CpuReading(int(cpu_ms * 1e6 * count), 10, 5, 0)
    return lambda_report.Phase(latencies, [reported_ms] * count, cpu)


def _result(scenario: str, function: str, memory_mb: int, p99_ms: float, gapped_p99_ms: float = 1.0) -> Any:
    return lambda_report.SizeResult(
        scenario, function, memory_mb, 500.0, _phase(p99_ms), _phase(gapped_p99_ms), 50.0
    )


def test_a_phase_divides_the_containers_cpu_by_its_invocations() -> None:
    phase = _phase(5.0, cpu_ms=1.7, count=400)
    assert phase.cpu_ms_per_invocation == pytest.approx(1.7)
    assert phase.throttled_share == 0.5
    assert phase.summary.p99_ms == pytest.approx(5.0)


def test_the_cheapest_size_within_the_budget_is_recommended() -> None:
    results = [
        _result("proxy", "ProxyFunction", 512, p99_ms=64.0),
        _result("proxy", "ProxyFunction", 1024, p99_ms=9.0),
        _result("proxy", "ProxyFunction", 1769, p99_ms=3.5),
    ]
    (chosen,) = lambda_report.recommend(results, budget_ms=10.0)
    assert (chosen.memory_mb, chosen.within_budget) == (1024, True)


def test_the_gapped_load_shape_counts_as_much_as_back_to_back() -> None:
    results = [
        _result("proxy", "ProxyFunction", 512, p99_ms=2.0, gapped_p99_ms=30.0),
        _result("proxy", "ProxyFunction", 1024, p99_ms=2.0, gapped_p99_ms=2.0),
    ]
    assert lambda_report.recommend(results, budget_ms=10.0)[0].memory_mb == 1024


def test_every_scenario_of_a_function_must_keep_within_the_budget() -> None:
    results = [
        _result("authorizer-hit", "AuthorizerFunction", 512, p99_ms=3.0),
        _result("authorizer-miss", "AuthorizerFunction", 512, p99_ms=25.0),
        _result("authorizer-hit", "AuthorizerFunction", 1024, p99_ms=2.0),
        _result("authorizer-miss", "AuthorizerFunction", 1024, p99_ms=6.0),
    ]
    (chosen,) = lambda_report.recommend(results, budget_ms=10.0)
    assert chosen.memory_mb == 1024
    assert chosen.scenarios == ("authorizer-hit", "authorizer-miss")


def test_when_no_size_keeps_within_the_budget_the_lowest_p99_is_recommended_and_flagged() -> None:
    results = [
        _result("policy", "PolicyFunction", 512, p99_ms=40.0),
        _result("policy", "PolicyFunction", 1769, p99_ms=12.0),
        _result("policy", "PolicyFunction", 3008, p99_ms=15.0),
    ]
    (chosen,) = lambda_report.recommend(results, budget_ms=10.0)
    assert (chosen.memory_mb, chosen.within_budget) == (1769, False)


RUNTIME = [("run", "awslambdaric/bootstrap.py"), ("handle_event_request", "awslambdaric/bootstrap.py")]
HANDLER = [
    *RUNTIME,
    ("invoke", "bakery_gateway/telemetry/instrument.py"),
    ("run_on_container_loop", "bakery_gateway/edge/lambda_http.py"),
    ("_run_once", "asyncio/base_events.py"),
]


def test_a_json_encode_inside_the_emf_flush_is_the_emf_blobs() -> None:
    frames = [
        *RUNTIME,
        ("invoke", "bakery_gateway/telemetry/instrument.py"),
        ("flush", "bakery_gateway/telemetry/emf.py"),
    ]
    assert lambda_profile.stage_of([*frames, ("iterencode", "json/encoder.py")]).startswith("EMF blob")


def test_a_socket_write_inside_aiohttp_is_the_downstream_clients() -> None:
    frames = [*HANDLER, ("send", "aiohttp/client.py"), ("write", "asyncio/selector_events.py")]
    assert lambda_profile.stage_of(frames).startswith("downstream client")


def test_the_loops_own_work_is_the_event_loops_not_the_event_parsings() -> None:
    assert lambda_profile.stage_of(HANDLER) == lambda_profile.EVENT_LOOP


def test_posting_the_answer_is_the_runtime_clients() -> None:
    frames = [*RUNTIME, ("post_invocation_result", "awslambdaric/lambda_runtime_client.py")]
    assert lambda_profile.stage_of(frames) == lambda_profile.RUNTIME


def test_samples_are_counted_per_stage_from_py_spys_raw_lines() -> None:
    raw = (
        "run (awslambdaric/bootstrap.py:549);flush (bakery_gateway/telemetry/emf.py:120) 3\n"
        "run (awslambdaric/bootstrap.py:549);request_headers (bakery_gateway/edge/lambda_http.py:55) 2\n"
    )
    stages = lambda_profile.stage_samples(raw)
    assert stages == {"EMF blob and metric counters": 3, lambda_profile.PARSING: 2}


def test_where_docker_cannot_run_the_bench_says_so_and_prints_no_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_power = bench_module("lambda_power")
    for folder in ("SharedLayer", "ProxyFunction"):
        (tmp_path / "build" / folder).mkdir(parents=True)
    emulator = tmp_path / "sam" / "lib" / "python3.11" / "site-packages" / lambda_container.RIE_IN_SAM_CLI
    emulator.parent.mkdir(parents=True)
    emulator.touch()

    def no_docker(log_path: Path) -> None:
        raise lambda_power.DockerUnavailableError("the docker client is not installed")

    monkeypatch.setattr(lambda_power, "BUILD", tmp_path / "build")
    monkeypatch.setattr(lambda_power, "SAM_VENV", tmp_path / "sam")
    monkeypatch.setattr(lambda_power, "ensure_docker", no_docker)

    assert lambda_power.main(["--sizes", "128", "--no-write"]) != 0
    printed = capsys.readouterr()
    assert "cannot run here: the docker client is not installed" in printed.err
    assert "|" not in printed.out


@pytest.fixture(scope="module")
def scenarios() -> Any:
    from bakery_local.dev_tokens import DevKeyPair

    return lambda_scenarios.Scenarios(DevKeyPair.generate())


@pytest.mark.parametrize("name", lambda_scenarios.SCENARIOS)
def test_each_scenario_is_made_by_its_name(scenarios: Any, name: str) -> None:
    assert scenarios.make(name).name == name


def test_a_cache_miss_invocation_carries_a_token_never_seen_before(scenarios: Any) -> None:
    events = scenarios.make("authorizer-miss").events(3)
    assert len(set(events)) == 3


def test_each_connect_invocation_opens_a_new_connection(scenarios: Any) -> None:
    events = scenarios.make("websocket-connect").events(3)
    connections = {json.loads(event)["requestContext"]["connectionId"] for event in events}
    assert len(connections) == 3


def test_the_proxy_scenario_sends_an_authenticated_context(scenarios: Any) -> None:
    (event,) = scenarios.make("proxy").events(1)
    assert json.loads(event)["requestContext"]["authorizer"]["lambda"]["authenticated"] is True
