"""The smoke test of a deployed stack (``make smoke URL=...``), run against the local runtime by tests/e2e."""
