"""The WebSocket API: connections and their topics in Redis, the client protocol, and delivery."""
