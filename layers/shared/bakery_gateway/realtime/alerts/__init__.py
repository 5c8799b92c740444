"""Real-time alerts: their model, ingress (the fanout function), storage and notification routing."""
