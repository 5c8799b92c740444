"""Power tuning (`make bench-lambda`): each function in the stand-in Lambda image under the CPU share of
each memory size, its latency, CPU and cost per invocation, and the memory size to configure.

Per scenario (``lambda_scenarios``) and memory size, a fresh container (``lambda_container``: the
``sam build`` output, SAM's runtime interface emulator, ``--cpus`` = memory / 1,769 MB) is invoked:

1. once (the first invocation: the runtime's start and the handler's import, not limited), then, with
   the CPU limited to the size's share, ``--warm-up`` times;
2. ``--invocations`` times back to back: a container that is never idle, as under sustained load;
3. ``--gapped`` times with a random pause before each (uniform, mean ``--gap-ms``): the CFS quota is
   granted per 100 ms period, so an invocation that starts after an idle spell runs on a full
   period's quota (a burst after idle), while back-to-back invocations use it up and wait for the next
   period (sustained throttling). Random gaps land invocations at every phase of the period.

It prints, per scenario and size: p50/p99 of the round trip, the container's CPU per invocation
(its cgroup's usage around the measured invocations, divided by their count: the emulator's and the
runtime's CPU included, so the no-op scenario's figure is the floor), the share of throttled periods,
the billed duration (the emulator's REPORT per invocation, each rounded up to 1 ms) and Lambda's
charge per million invocations; then recommends per function the cheapest size whose p99, in both
load shapes, stays within ``--budget-ms``. Redis and the stub service run on this host, bound to
Docker's bridge; nothing leaves the machine. One section per run is appended to
``results/lambda_power.md``. ``--baseline-ref REF`` measures REF's functions too, in the same run,
each scenario and size right beside this checkout's (``lambda_baseline``), and reports both and their
ratios. ``--profile`` instead samples one scenario with py-spy (``lambda_profile``). Prints, never
asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from baseline import BaselineError
from cost import price_lines
from harness import BENCH_DIR, REPO_ROOT, code_version, function_environment, stub_service
from lambda_baseline import Baseline, baseline_report, prepare
from lambda_container import (
    CONTAINER_HOST,
    ContainerError,
    FunctionCode,
    FunctionContainer,
    Stack,
    find_rie,
    remove_leftovers,
)
from lambda_report import (
    Phase,
    SizeResult,
    recommend,
    recommendation_table,
    results_table,
    share_table,
    split_floor,
)
from lambda_scenarios import NOOP, SCENARIOS, Scenario, Scenarios, write_noop_function
from results_table import RunHeader, append_run, cpu_description, run_heading

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.redis_server import RedisServer, free_port
from bakery_local.sam_local.docker_daemon import (
    DockerDaemon,
    DockerUnavailableError,
    bridge_address,
    ensure_docker,
)
from bakery_local.sam_local.lambda_image import IMAGE, ImageBuildError, ensure_image
from bakery_local.template import Resolver, load_template, read_http_api

RESULTS = BENCH_DIR / "results" / "lambda_power.md"
TITLE = "# Power tuning: the functions under Lambda's CPU share per memory size (`make bench-lambda`)"
INTRO = (
    "Each run appends a section (bench/README.md, power tuning, says how to read it). The machine is "
    "shared: compare sizes within a run, and read the load average of each."
)
BUILD = REPO_ROOT / ".aws-sam" / "build"
TEMPLATE = REPO_ROOT / "template.yaml"
SAM_VENV = REPO_ROOT / ".venv-sam"
LAYER = "SharedLayer"
MEMORY_SIZES = (128, 256, 512, 768, 1024, 1536, 1769, 2048, 3008)
_T = TypeVar("_T")


class BenchUnavailableError(Exception):
    """What the bench needs cannot run here; the message says what and why."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(MEMORY_SIZES), help="memory sizes, MB")
    parser.add_argument(
        "--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), metavar="NAME",
        help=f"of {', '.join(SCENARIOS)} (default: all)",
    )  # fmt: skip
    parser.add_argument("--invocations", type=int, default=400, help="back-to-back invocations per size")
    parser.add_argument("--gapped", type=int, default=200, help="invocations with a pause before each")
    parser.add_argument("--gap-ms", type=float, default=40.0, help="mean pause (uniform, 0 to twice this)")
    parser.add_argument("--warm-up", type=int, default=20, help="unmeasured invocations after the first")
    parser.add_argument("--budget-ms", type=float, default=10.0, help="p99 an invocation may take")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--no-write", action="store_true", help=f"do not append to {RESULTS.name}")
    parser.add_argument(
        "--baseline-ref", metavar="REF",
        help="a git ref (e.g. main) whose functions are measured too, beside this checkout's, same run",
    )  # fmt: skip
    parser.add_argument("--profile", choices=SCENARIOS, help="py-spy of this scenario instead of the sweep")
    parser.add_argument(
        "--profile-size", type=int, default=3008, help="memory size of the profiled container"
    )
    parser.add_argument("--profile-invocations", type=int, default=3000)
    parser.add_argument("--profile-rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument(
        "--profile-output", type=Path, default=REPO_ROOT / "build" / "lambda-profile.txt",
        help="py-spy's raw samples, kept (flame graphs: inferno, speedscope)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if any(not 128 <= size <= 10240 for size in args.sizes):
        parser.error("Lambda's memory sizes are 128 to 10,240 MB")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_start, code = datetime.now(UTC), os.getloadavg()[0], code_version()
    configured = {spec.logical_id: spec.memory_mb for spec in read_http_api(TEMPLATE, {}).functions.values()}
    keys = DevKeyPair.generate()
    scenarios = Scenarios(keys)
    try:
        baseline = None if args.baseline_ref is None else prepare(args.baseline_ref)
        with running_stack(keys, baseline) as stack:
            if args.profile:
                from lambda_profile import profile, profile_both

                if baseline is None:
                    print("\n".join(profile(stack, scenarios.make(args.profile), args)))
                else:
                    print("\n".join(profile_both(stack, scenarios.make(args.profile), args, baseline.label)))
                return 0
            results, baseline_results, failure = sweep(
                stack, [scenarios.make(name) for name in args.scenarios], args
            )
    except (BenchUnavailableError, DockerUnavailableError, ImageBuildError, BaselineError) as error:
        print(f"bench-lambda: cannot run here: {error}", file=sys.stderr)
        return 2
    except ContainerError as error:
        print(f"bench-lambda: {error}", file=sys.stderr)
        return 1
    header = RunHeader(
        f"{started:%Y-%m-%d %H:%M}", load_start, os.getloadavg()[0], cpu_description(),
        platform.python_version(), code,
    )  # fmt: skip
    lines = report(header, results, args, configured)
    if baseline is not None:
        lines += baseline_report(baseline, baseline_results, results, args, configured)
    section = "\n".join(lines) + "\n"
    print("\n" + section)
    if failure is not None:
        print(f"bench-lambda: the run stopped before its end, nothing appended: {failure}", file=sys.stderr)
        return 1
    if not args.no_write:
        append_run(RESULTS, section, title=TITLE, intro=INTRO)
        print(f"(appended to {RESULTS.relative_to(REPO_ROOT)})")
    return 0


@contextmanager
def running_stack(keys: DevKeyPair, baseline: Baseline | None = None) -> Iterator[Stack]:
    """Docker (started only if it is not running, and then stopped again), the image, Redis and the
    stub service on the bridge, and the functions' environment (and ``baseline``'s functions)."""
    missing = [name for name in (LAYER, "ProxyFunction") if not (BUILD / name).is_dir()]
    if missing:
        raise BenchUnavailableError(
            f"no `sam build` output in {BUILD} ({', '.join(missing)}): run `make build`"
        )
    try:
        rie = find_rie(SAM_VENV)
    except ContainerError as error:
        raise BenchUnavailableError(str(error)) from error
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bakery-power-") as work:
        daemon: DockerDaemon = ensure_docker(Path(work) / "dockerd.log")
        stack.callback(daemon.stop)
        ensure_image(Path(work) / "image.log", lambda line: print(line, flush=True))
        left = remove_leftovers(REPO_ROOT)
        if left:
            print(f"removed {len(left)} container(s) an interrupted run left behind")
        bridge = bridge_address()
        redis = RedisServer(Path(work), host=bridge).start()
        stack.callback(redis.stop)
        stub_port = free_port(bridge)
        stack.enter_context(stub_service(stub_port, host=bridge))
        print(
            f"Redis {bridge}:{redis.port} and the stub service {bridge}:{stub_port} on Docker's bridge",
            flush=True,
        )
        codes = function_codes(BUILD)
        codes[NOOP] = FunctionCode(NOOP, write_noop_function(Path(work)), None)
        environment = lambda_environment(keys, redis.port, f"http://{CONTAINER_HOST}:{stub_port}")
        baseline_codes = None if baseline is None else function_codes(baseline.build)
        yield Stack(bridge, environment, codes, rie, baseline_codes)


def function_codes(build: Path) -> dict[str, FunctionCode]:
    """The request-serving functions of one ``sam build`` output."""
    return {
        name: FunctionCode(name, build / name, build / LAYER)
        for name in ("ProxyFunction", "AuthorizerFunction", "PolicyFunction", "WebSocketFunction")
    }


def lambda_environment(keys: DevKeyPair, redis_port: int, stub_url: str) -> dict[str, str]:
    """Every variable the template gives the functions, at its default (the request log at the
    template's level), with Redis, the keys and the services of this run; nothing that reaches AWS."""
    template = load_template(TEMPLATE)
    declared = Resolver(template, {}).resolve(template["Globals"]["Function"]["Environment"]["Variables"])
    environment = {name: value for name, value in declared.items() if isinstance(value, str)}
    bench = function_environment(CONTAINER_HOST, redis_port, keys, stub_url)
    del bench[names.LOG_LEVEL]  # the bench's in-process arms log at WARNING; Lambda logs at the template's
    return {
        **environment,
        **bench,
        names.REDIS_TLS: "false",
        names.REDIS_PASSWORD_SECRET_ID: "",
        names.JWT_PUBLIC_KEYS_SSM_PARAMETER: "",
    }


def sweep(
    stack: Stack, scenarios: Sequence[Scenario], args: argparse.Namespace
) -> tuple[list[SizeResult], list[SizeResult], ContainerError | None]:
    """Every scenario at every size; what was measured (this checkout's, and the baseline's when
    there is one), and the error that stopped the sweep, if one did. With a baseline, each scenario
    and size is measured for both versions one after the other, the order alternating, so that both
    see the same moment of a shared machine."""
    results: list[SizeResult] = []
    baseline_results: list[SizeResult] = []
    turn = 0
    for scenario in scenarios:
        for memory_mb in args.sizes:
            versions = [("this", stack.codes, results)]
            if stack.baseline_codes is not None and scenario.function in stack.baseline_codes:
                versions.append(("baseline", stack.baseline_codes, baseline_results))
                if turn % 2:
                    versions.reverse()
                turn += 1
            for version, codes, measured in versions:
                try:
                    result = measure(stack, scenario, memory_mb, args, codes)
                except ContainerError as error:
                    return results, baseline_results, error
                _progress(result, version if len(versions) > 1 else "")
                measured.append(result)
    return results, baseline_results, None


def _progress(result: SizeResult, version: str) -> None:
    b2b, gaps = result.back_to_back.summary, result.gapped.summary
    print(
        f"{result.scenario:>17} {result.memory_mb:>5} MB{f' {version:>8}' if version else ''}: back-to-back "
        f"p50 {b2b.median_ms:6.2f} p99 {b2b.p99_ms:7.2f} ms, gaps p50 {gaps.median_ms:6.2f} p99 "
        f"{gaps.p99_ms:7.2f} ms, CPU {result.back_to_back.cpu_ms_per_invocation:.3f} ms/invocation "
        f"(load {os.getloadavg()[0]:.2f})",
        flush=True,
    )


def measure(
    stack: Stack,
    scenario: Scenario,
    memory_mb: int,
    args: argparse.Namespace,
    codes: Mapping[str, FunctionCode] | None = None,
) -> SizeResult:
    """One scenario in one fresh container of ``memory_mb``: first, warm-up, back to back, with gaps;
    the function's code from ``codes`` (by default, this checkout's)."""
    events = scenario.events(1 + args.warm_up + args.invocations + args.gapped)
    first, warm, b2b, gapped = _split(events, 1, args.warm_up, args.invocations)
    pauses = random.Random(f"{args.seed}:{scenario.name}:{memory_mb}")
    code = (stack.codes if codes is None else codes)[scenario.function]
    with FunctionContainer(
        code, memory_mb, stack.environment, owner=REPO_ROOT, image=IMAGE, rie=stack.rie, bridge=stack.bridge
    ) as container:
        # The very first invocation starts the runtime and imports the handler.
        setup_seconds = [
            _checked(container, scenario.name, scenario.setup_check, event) for event in scenario.setup
        ]
        first_seconds = [*setup_seconds, _checked(container, scenario.name, scenario.check, first[0])][0]
        container.limit_cpu()
        for event in warm:
            _checked(container, scenario.name, scenario.check, event)
        before = container.cpu()
        b2b_ns = [int(_checked(container, scenario.name, scenario.check, event) * 1e9) for event in b2b]
        middle = container.cpu()
        gapped_ns = []
        for event in gapped:
            time.sleep(pauses.uniform(0, 2 * args.gap_ms) / 1000)
            gapped_ns.append(int(_checked(container, scenario.name, scenario.check, event) * 1e9))
        after = container.cpu()
        reported = container.reported_durations_ms()
        peak = container.memory_peak_bytes()
    unmeasured = len(scenario.setup) + 1 + len(warm)
    invoked = unmeasured + len(b2b) + len(gapped)
    if len(reported) != invoked:
        raise ContainerError(f"{container.name}: {len(reported)} REPORT lines for {invoked} invocations")
    reported_b2b, reported_gapped = _split(reported[unmeasured:], len(b2b), len(gapped))[:2]
    return SizeResult(
        scenario.name,
        scenario.function,
        memory_mb,
        first_seconds * 1000,
        Phase(b2b_ns, reported_b2b, middle - before),
        Phase(gapped_ns, reported_gapped, after - middle),
        None if peak is None else peak / 2**20,
    )


def _checked(container: FunctionContainer, name: str, check: Callable[[Any], bool], event: bytes) -> float:
    """The invocation's round trip in seconds; ``ContainerError`` when ``check`` refuses its answer."""
    invocation = container.invoke(event)
    try:
        answer = json.loads(invocation.answer)
    except ValueError:
        answer = None
    if not check(answer):
        raise ContainerError(
            f"{name} in {container.name}: unexpected answer {invocation.answer[:400]!r}; "
            f"its log:\n{container.log_tail()}"
        )
    return invocation.seconds


def _split(items: Sequence[_T], *sizes: int) -> list[list[_T]]:
    """``items`` cut into consecutive runs of ``sizes``, and the rest."""
    parts, start = [], 0
    for size in sizes:
        parts.append(list(items[start : start + size]))
        start += size
    parts.append(list(items[start:]))
    return parts


def report(
    header: RunHeader, results: Sequence[SizeResult], args: argparse.Namespace, configured: Mapping[str, int]
) -> list[str]:
    """The run's section; ``configured``: each function's MemorySize in the template when the run began."""
    floors, tuned = split_floor(results, NOOP)
    return [
        *run_heading(header),
        "",
        f"Stand-in image {IMAGE}, SAM's aws-lambda-rie; per size a fresh container, 1 first + {args.warm_up} "
        f"warm-up invocations, then {args.invocations} back to back and {args.gapped} after random pauses "
        f"(uniform, 0 to {2 * args.gap_ms:g} ms). Redis and the stub service on this host, over Docker's "
        "bridge.",
        "",
        *share_table(sorted({result.memory_mb for result in results})),
        "",
        *results_table(results, floors),
        "",
        "CPU per invocation: the container's cgroup over the back-to-back invocations (the emulator's "
        "and the runtime's processes included; `noop` is that floor). Throttled periods: back to back / "
        "with gaps. Billed: the emulator's duration of each invocation rounded up to 1 ms, averaged. "
        + " ".join(price_lines()),
        "",
        f"Recommendation: per function, the cheapest size whose p99 stays within {args.budget_ms:g} ms in "
        "both load shapes for every scenario of the function (cost: the dearer load shape, summed over "
        "its scenarios).",
        "",
        *recommendation_table(recommend(tuned, args.budget_ms), args.budget_ms, configured),
    ]


if __name__ == "__main__":
    sys.exit(main())
