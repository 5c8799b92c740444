"""The gateway's contracts, as every part of it reads them, whatever host serves it.

The transport-neutral ``Request`` the core takes (built by the adapters in ``edge``) and the
caller's ``Identity`` it carries (the authorizer context contract); the route table (which routes
exist, which function serves each, what guards them); the two demo account types; the quotas of the
platform the gateway runs on (Lambda's and API Gateway's payload, header and timeout limits); and
RFC 9457 problem documents. Nothing here imports another part of the gateway: every layer may read it.
"""
