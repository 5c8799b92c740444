"""``bakery-gateway serve``: the gateway as a long-lived HTTP server, for production containers.

An ASGI application (``app.ServeApp``) that does per request what API Gateway and Lambda do on AWS,
from the library's own facts rather than from ``template.yaml``: it selects the route from the route
table (``api.routes``, ``routing``), answers CORS as the HTTP API's configuration says (``api.cors``),
judges the credentials with the Lambda authorizer's logic behind a verdict cache of API Gateway's
semantics (``verdict_cache``), and calls the proxy's pipeline, its own routes and the policy
function's admin app with the request read from the ASGI scope: no payload 2.0 event is built and
no Lambda result read back. ``server`` checks the configuration and runs it in uvicorn workers with a
guarded HTTP protocol (``protocol``); ``alert_stream`` and ``alert_feed`` keep the alert stream open.
The local runtime (``bakery_local``), an emulator of API Gateway and Lambda for development, shares
the route selection, the verdict cache, CORS, the alert stream and API Gateway's own answers
(``answers``).
"""
