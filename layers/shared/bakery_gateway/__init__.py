"""Bakery-IA API gateway: the shared library behind every Lambda function of the gateway."""

from bakery_gateway.cold_start import pause_collection

__version__ = "1.0.0"

# Before anything heavy is imported: see cold_start.py (telemetry.instrument() resumes it).
pause_collection()
