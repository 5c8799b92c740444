"""Edge adapters: how a request gets into the gateway and how its answer gets out.

A request arrives as an API Gateway payload 2.0 event (Lambda, ``sam local``, the local runtime)
or as an ASGI scope (``bakery-gateway serve``); the adapters here read either into the one
transport-neutral ``api.request.Request`` the core takes, and write the core's answer back in the host's
shape (a Lambda proxy response, or ASGI messages). The authorizer's events, the FastAPI apps'
request-context middleware and their problem handlers are here too.
"""
