"""The proxy function's own routes, on FastAPI: health, API documentation, geocoding and the alert stream.

Every other ``/api/v1`` path is proxied without a framework (``forwarding``); these few answer from
the gateway itself, through the same policy steps, and are built on the first request for one so
that a proxy container that never serves them never imports FastAPI.
"""
