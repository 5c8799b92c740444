"""Telemetry: what every request and invocation leaves behind.

Structured logs (powertools Logger) and the Prometheus metrics registry (``observability``), their
CloudWatch EMF blob per invocation, the Pushgateway export, X-Ray tracing, the one log record and the
metrics of each request (``request_record``), the wrapper every handler runs in (``instrument``), and
pseudonymized user ids for logs.
"""
