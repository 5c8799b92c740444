"""Real time: tenants' alerts, from their ingress to every open stream and socket.

``alerts`` holds the alert model, the fanout function's ingress, the Redis stream and pub/sub they are
kept in, notification routing, and the SSE stream; ``websocket`` holds the WebSocket API's
connections and topics in Redis, its client protocol, and delivery through ``@connections``.
"""
