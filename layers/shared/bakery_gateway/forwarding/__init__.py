"""Forwarding: the proxied request's path from the gateway to its service and back.

``pipeline`` runs a request's steps (identity, route, tenant, body size, every policy in one Redis
round trip, then the service call); ``routing`` decides which service a path goes to; ``downstream``
builds the headers the service receives and brings its answer back unchanged; the retry budget
decides when a failed call may be tried once more. ``proxy_handler`` is the proxy function's entry:
service paths straight through the pipeline, the gateway's own routes to FastAPI.
"""
