"""Edge adapters: how a request gets into the gateway and how its answer gets out.

A request arrives as an API Gateway payload 2.0 event (Lambda, ``sam local``, the local runtime)
or as an ASGI scope (``bakery-gateway serve``); the adapters here read either into the one
transport-neutral request the core takes, and write the core's answer back in the host's shape
(a Lambda proxy response, or ASGI messages). Also here: RFC 9457 problem documents, the platform's
quotas (payload, header and timeout limits), and the request-context middleware of the FastAPI apps.
"""
