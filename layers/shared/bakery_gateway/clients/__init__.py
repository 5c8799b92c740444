"""Clients: Redis, HTTP and AWS, created once per container (per event loop) and reused.

Client factories with their timeouts (``factories``), the pipelined Redis connection of the policy
round trip, the check that finds a connection Redis closed while it sat idle, every Redis key family
with its TTL (``redis_keyspace``), the Redis AUTH token and other secrets from Secrets Manager,
SigV4 signing, and the downstream client's aiohttp transport.
"""
