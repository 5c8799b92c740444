"""The per-request policies: rate limits, revocation, subscription, read-only mode, tenant access,
login throttling, demo guard rails, and each service's circuit breaker.

All of a request's checks run in one Redis round trip (``policy.lua``, through ``script.py``);
``engine.py`` turns the answer into a decision, with fallbacks when Redis cannot answer. The policy
function's administration routes (tenant policies, API keys, the audit stream) live here too.
"""
