"""The Lambda context object, for the hosts that are not Lambda: ``serve``, the local runtime, tests.

On Lambda the runtime hands each invocation its own context; the library only reads it (the time left,
the request id, the function's name and memory). ``serve`` and the local emulator make one per
invocation instead, and so do the tests that call a handler: this is the one they all make.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and powertools read.

    Its deadline is ``timeout_seconds`` after its creation on ``clock``, as an invocation's is; a test
    stops the clock to read a fixed time left.
    """

    function_name: str = "local"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = self.clock() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self.clock()) * 1000))
