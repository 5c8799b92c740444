"""`make bench-lambda ARGS='--profile proxy'`: where an invocation's CPU goes, inside the Lambda image.

One warm container of the scenario's function (``--profile-size``, 3,008 MB by default: a share large
enough that the quota hardly throttles, so samples are CPU, not waiting), invoked back to back
``--profile-invocations`` times while py-spy, on the host, samples the runtime's Python process in
the container (``--nonblocking``: the process is never paused; py-spy's own CPU is the host's, not
the container's). Each sample is put in one stage: walking its stack from the innermost frame out,
the first frame that belongs to a stage decides (so a JSON encode inside the EMF flush is the EMF
blob's, and a socket write inside aiohttp is the downstream client's). Stages are named by file and
function (``STAGES``): when code moves, move the rules with it.

µs per invocation = a stage's share of the samples x the Python process's CPU per invocation (from
/proc); the container's CPU (its cgroup) minus that is the emulator's.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from folded import FRAME
from folded import report as folded_report
from harness import REPO_ROOT
from lambda_container import ContainerError, FunctionContainer, Stack
from lambda_scenarios import Scenario
from process_cpu import command_line, cpu_seconds

from bakery_local.sam_local.lambda_image import IMAGE

PY_SPY: Final = REPO_ROOT / ".venv" / "bin" / "py-spy"
RUNTIME_MODULE: Final = b"awslambdaric"
WARM_UP: Final = 200
PARSING: Final = "event parsing, routing, the pipeline's steps"
# (stage, file markers, function names: empty = every function of those files). Checked in order for
# each frame, innermost frame first.
STAGES: Final[tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = (
    (
        "EMF blob and metric counters",
        ("/bakery_gateway/telemetry/emf.py", "/aws_lambda_powertools/metrics", "/prometheus_client/"),
        (),
    ),
    (
        "request log record",
        (
            "/bakery_gateway/telemetry/request_record.py",
            "/bakery_gateway/telemetry/log_format.py",
            "/bakery_gateway/telemetry/pseudonymize.py",
            "/aws_lambda_powertools/logging",
            "/logging/",
        ),
        (),
    ),
    (
        "downstream client: httpx API and aiohttp transport",
        (
            "/httpx/",
            "/httpcore/",
            "/h11/",
            "/anyio/",
            "/sniffio/",
            "/bakery_gateway/clients/aiohttp_transport.py",
            "/bakery_gateway/clients/downstream_client.py",
            "/aiohttp/",
            "/aiohappyeyeballs/",
            "/yarl/",
            "/multidict/",
        ),
        (),
    ),
    (
        "policy call: one Redis round trip",
        (
            "/bakery_gateway/policies/",
            "/bakery_gateway/clients/pipelined_redis.py",
            "/bakery_gateway/authentication/revocation.py",
            "/bakery_gateway/policies/circuit_breaker.py",
            "/redis/",
            "/hiredis/",
        ),
        (),
    ),
    (
        "token verification",
        (
            "/bakery_gateway/authentication/token_verifier.py",
            "/bakery_gateway/authentication/reloading_verifier.py",
            "/bakery_gateway/authentication/public_keys.py",
            "/cryptography/",
        ),
        (),
    ),
    (
        "identity",
        (
            "/bakery_gateway/api/identity.py",
            "/bakery_gateway/authentication/caller.py",
            "/bakery_gateway/api/demo.py",
        ),
        (),
    ),
    ("header handling (downstream and response headers)", ("/bakery_gateway/forwarding/downstream.py",), ()),
    ("response building", ("/bakery_gateway/edge/lambda_http.py",), ("lambda_response", "problem_response")),
    (
        PARSING,
        (
            "/bakery_gateway/edge/lambda_event.py",
            "/bakery_gateway/forwarding/proxy_handler.py",
            "/bakery_gateway/forwarding/pipeline.py",
            "/bakery_gateway/forwarding/routing.py",
        ),
        (),
    ),
    (PARSING, ("/bakery_gateway/edge/lambda_http.py",), ("request_headers", "request_body")),
    (
        "authorizer and WebSocket handlers",
        ("/bakery_gateway/authentication/authorizer.py", "/bakery_gateway/realtime/websocket/"),
        (),
    ),
)
# Samples with no stage frame: the asyncio loop's own work, then the runtime interface client's
# (next event, JSON of the event and answer, posting it), then anything else (the handler's wrappers).
EVENT_LOOP: Final = "asyncio event loop"
RUNTIME: Final = "Lambda runtime client (awslambdaric): next event, JSON, posting the answer"
OTHER: Final = "handler wrappers and the rest"


def stage_of(frames: Sequence[tuple[str, str]]) -> str:
    """The stage of one sample, from its (function, file) frames, outermost first.

    py-spy names files from their package folder (``bakery_gateway/telemetry/emf.py``, ``asyncio/events.py``):
    a leading ``/`` makes every marker match whole folder names.
    """
    located = [(name, "/" + filename.lstrip("/")) for name, filename in frames]
    for name, filename in reversed(located):
        for stage, files, functions in STAGES:
            if any(marker in filename for marker in files) and (not functions or name in functions):
                return stage
    filenames = [filename for _, filename in located]
    if any("/asyncio/" in filename for filename in filenames):
        return EVENT_LOOP
    if any("/awslambdaric/" in filename for filename in filenames):
        return RUNTIME
    return OTHER


def stage_samples(raw: str) -> Counter[str]:
    """Samples per stage in py-spy's raw (folded) output: "frame;frame;... count" per line."""
    stages: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for frame in stack.split(";"):
            match = FRAME.match(frame)
            if match:
                frames.append((match["name"], match["file"]))
        stages[stage_of(frames)] += int(count)
    return stages


def profile(stack: Stack, scenario: Scenario, args: argparse.Namespace) -> list[str]:
    if not PY_SPY.exists():
        raise ContainerError(f"{PY_SPY} is missing: `make venv` installs py-spy (a dev dependency)")
    count = args.profile_invocations
    events = scenario.events(1 + WARM_UP + count)
    code = stack.codes[scenario.function]
    output: Path = args.profile_output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    with FunctionContainer(
        code,
        args.profile_size,
        stack.environment,
        owner=REPO_ROOT,
        image=IMAGE,
        rie=stack.rie,
        bridge=stack.bridge,
    ) as container:
        for event in scenario.setup:
            container.invoke(event)
        container.invoke(events[0])
        container.limit_cpu()
        for event in events[1 : 1 + WARM_UP]:
            container.invoke(event)
        runtime = next((pid for pid in container.pids() if RUNTIME_MODULE in command_line(pid)), None)
        if runtime is None:
            raise ContainerError(f"{container.name}: no {RUNTIME_MODULE.decode()} process")
        sampler = subprocess.Popen(
            [str(PY_SPY), "record", "--pid", str(runtime), "--rate", str(args.profile_rate), "--nonblocking",
             "--gil", "--format", "raw", "--output", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        container_before, runtime_before = container.cpu(), cpu_seconds([runtime])
        for event in events[1 + WARM_UP :]:
            container.invoke(event)
        container_cpu, runtime_cpu = (
            container.cpu() - container_before,
            cpu_seconds([runtime]) - runtime_before,
        )
        sampler.send_signal(signal.SIGINT)  # py-spy writes its samples when interrupted
        _, errors = sampler.communicate(timeout=60)
        if not output.exists():
            raise ContainerError(f"py-spy wrote no samples: {errors.decode(errors='replace')[-1000:]}")
        raw = output.read_text()
        top_frames = folded_report(output, within="", top=15, call_us=runtime_cpu / count * 1e6)
    return report(
        scenario,
        args.profile_size,
        count,
        stage_samples(raw),
        container_cpu.usage_ns / 1e9,
        runtime_cpu,
        top_frames,
    )


def profile_both(stack: Stack, scenario: Scenario, args: argparse.Namespace, baseline: str) -> list[str]:
    """``profile`` of the baseline's function, then of this checkout's, in the same run (raw samples
    in ``--profile-output`` with ``-baseline`` before its suffix, and in ``--profile-output``)."""
    output: Path = args.profile_output
    baseline_args = argparse.Namespace(
        **{**vars(args), "profile_output": output.with_stem(f"{output.stem}-baseline")}
    )
    baseline_stack = dataclasses.replace(stack, codes={**stack.codes, **(stack.baseline_codes or {})})
    return [
        f"### Baseline: {baseline}",
        "",
        *profile(baseline_stack, scenario, baseline_args),
        "",
        "### This checkout",
        "",
        *profile(stack, scenario, args),
    ]


def report(
    scenario: Scenario,
    memory_mb: int,
    count: int,
    stages: Counter[str],
    container_seconds: float,
    runtime_seconds: float,
    top_frames: Sequence[str],
) -> list[str]:
    total = sum(stages.values())
    runtime_us = runtime_seconds / count * 1e6
    lines = [
        f"## Profile of {scenario.name} ({scenario.what}) at {memory_mb:,} MB",
        "",
        f"{count} invocations back to back; py-spy samples of the runtime's Python process: {total}. CPU per "
        f"invocation: container (cgroup) {container_seconds / count * 1e6:.0f} µs, of which the Python "
        f"runtime process {runtime_us:.0f} µs (/proc, 10 ms ticks) and the emulator the rest.",
        "",
        "| stage | share of samples | µs per invocation |",
        "|---|---:|---:|",
    ]
    for stage, samples in stages.most_common():
        share = samples / total if total else 0.0
        lines.append(f"| {stage} | {share:.1%} | {share * runtime_us:.0f} |")
    return [*lines, "", "Frames with the most own samples:", "", *top_frames]
