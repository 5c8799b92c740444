"""Billed cost per million client requests, from measured durations and the template's MemorySize.

List prices of us-east-1 (N. Virginia), first pricing tier, x86_64 (the template's architecture),
no free tier, no savings plan; other regions list other prices (not used here). Sources, read on
2026-11-26: aws.amazon.com/lambda/pricing/ and aws.amazon.com/api-gateway/pricing/ (the HTTP API
figure also in AWS's whitepaper "Best Practices for Designing Amazon API Gateway Private APIs and
Private Integration", table 4). Check them before quoting a bill.

Lambda bills each invocation's duration rounded up to the next millisecond, times the configured
memory in GB (MB / 1024), plus a price per request. The suite's durations are in-process (the handler
call), so they are floors; the power-tuning bench (``lambda_power.py``) bills each invocation's own
duration as the runtime interface emulator reports it (``Invocation.measured``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

PRICES_REGION: Final = "us-east-1"
PRICES_SOURCE: Final = "aws.amazon.com/lambda/pricing/ and /api-gateway/pricing/, read 2026-11-26"
LAMBDA_X86_USD_PER_GB_SECOND: Final = 0.0000166667
LAMBDA_USD_PER_MILLION_REQUESTS: Final = 0.20
HTTP_API_USD_PER_MILLION_REQUESTS: Final = 1.00  # first 300 million a month, per 512 KB metered
BILLING_GRANULARITY_MS: Final = 1.0
MILLION: Final = 1_000_000


def billed_duration_ms(duration_ms: float) -> float:
    """One invocation's billed duration: rounded up to the billing granularity."""
    return math.ceil(duration_ms / BILLING_GRANULARITY_MS) * BILLING_GRANULARITY_MS


@dataclass(frozen=True, slots=True)
class Invocation:
    """One function's share of a client request: how often it runs and for how long."""

    function: str
    duration_ms: float  # measured, per invocation (a median)
    memory_mb: int
    invocations_per_request: float = 1.0
    # The mean of each invocation's own billed duration, when every duration is known: Lambda rounds
    # each one up, so this is not the rounded median (1.2 and 0.8 ms bill 2 + 1 ms, not 2 x 2 ms).
    mean_billed_ms: float | None = None

    @classmethod
    def measured(cls, function: str, durations_ms: Sequence[float], memory_mb: int) -> Invocation:
        """An invocation billed as the ``durations_ms`` of many were: each rounded up, then averaged."""
        return cls(
            function,
            statistics.median(durations_ms),
            memory_mb,
            mean_billed_ms=statistics.fmean(billed_duration_ms(duration) for duration in durations_ms),
        )

    @property
    def billed_ms(self) -> float:
        return billed_duration_ms(self.duration_ms) if self.mean_billed_ms is None else self.mean_billed_ms

    def gb_seconds_per_million(self) -> float:
        invocations = MILLION * self.invocations_per_request
        return invocations * (self.billed_ms / 1000) * (self.memory_mb / 1024)

    def duration_usd_per_million(self) -> float:
        return self.gb_seconds_per_million() * LAMBDA_X86_USD_PER_GB_SECOND

    def requests_usd_per_million(self) -> float:
        return self.invocations_per_request * LAMBDA_USD_PER_MILLION_REQUESTS

    def lambda_usd_per_million(self) -> float:
        """What Lambda charges for a million client requests: duration and requests."""
        return self.duration_usd_per_million() + self.requests_usd_per_million()


@dataclass(frozen=True, slots=True)
class Bill:
    invocations: tuple[Invocation, ...]
    api_requests_per_request: float = 1.0

    def api_gateway_usd(self) -> float:
        return self.api_requests_per_request * HTTP_API_USD_PER_MILLION_REQUESTS

    def lambda_usd(self) -> float:
        return sum(item.lambda_usd_per_million() for item in self.invocations)

    def total_usd(self) -> float:
        return self.lambda_usd() + self.api_gateway_usd()


def bill_table(bills: Sequence[tuple[str, Bill]]) -> list[str]:
    """One block of rows per scenario: each function's billed duration, GB-s and charges."""
    lines = [
        "| scenario | item | measured ms | billed ms | MB | GB-s | duration $ | requests $ |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, bill in bills:
        for item in bill.invocations:
            share = f" x{item.invocations_per_request:g}" if item.invocations_per_request != 1 else ""
            lines.append(
                f"| {scenario} | {item.function}{share} | {item.duration_ms:.3f} | {item.billed_ms:.0f} | "
                f"{item.memory_mb} | {item.gb_seconds_per_million():,.1f} | "
                f"{item.duration_usd_per_million():.4f} | {item.requests_usd_per_million():.4f} |"
            )
        lines.append(f"| {scenario} | HTTP API requests | | | | | | {bill.api_gateway_usd():.4f} |")
        lines.append(
            f"| {scenario} | **total per million client requests** | | | | | | **{bill.total_usd():.4f}** |"
        )
    return lines


def price_lines() -> list[str]:
    return [
        f"List prices, {PRICES_REGION}, first tier, x86_64, no free tier ({PRICES_SOURCE}): Lambda "
        f"${LAMBDA_X86_USD_PER_GB_SECOND:.10f} per GB-second and ${LAMBDA_USD_PER_MILLION_REQUESTS:.2f} per "
        f"million requests, duration rounded up to {BILLING_GRANULARITY_MS:g} ms; HTTP API "
        f"${HTTP_API_USD_PER_MILLION_REQUESTS:.2f} per million requests (first 300 million a month).",
    ]
