"""Authentication: who is calling, decided once per token and trusted everywhere after.

The Lambda authorizer verifies bearer tokens (RS256 and other asymmetric JWS, with keys from the
environment, SSM or Secrets Manager) and API keys, and hands its verdict (an ``api.identity.Identity``) to the
functions in the authorizer context; ``caller`` turns that verdict back into an identity or a 401
problem. The credential parsers and revocation at logout live here too.
"""
