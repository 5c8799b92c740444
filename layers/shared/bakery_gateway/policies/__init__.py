"""The per-request tenant policies: rate limits, revocation, subscription, read-only mode.

All of a request's checks run in one Redis round trip (``policy.lua``, through ``script.py``);
``engine.py`` turns the answer into a decision, with fallbacks when Redis cannot answer.
"""
