"""An embedded Redis for the local runtime: fakeredis behind a real TCP socket.

The handlers connect to it exactly as they connect to ElastiCache (host, port, redis-py), so no
code path differs; only its data lives in this process and is gone when the runtime stops.
"""

from __future__ import annotations

import threading


class EmbeddedRedis:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from fakeredis import TcpFakeServer

        self._server = TcpFakeServer((host, port), server_type="redis")
        # One thread per connection, which can sit in a blocking command (an alert feed's XREAD BLOCK)
        # for seconds after its client is gone: stopping the runtime does not wait for them.
        self._server.daemon_threads = True
        self._server.block_on_close = False
        address = self._server.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-redis", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
