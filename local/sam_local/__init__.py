"""``sam local start-api`` on this machine, in one command (``make sam-local``) and in the test tier
``tests/sam_local``: Docker running, a stand-in for the Lambda Python base image built offline
(``lambda_image``), a Redis and the sample services on Docker's bridge, the ``--env-vars`` file
generated, then SAM itself (``api``). README, "sam local start-api".
"""
