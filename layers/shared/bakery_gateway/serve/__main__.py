"""``python -m bakery_gateway.serve``: ``bakery-gateway serve``."""

from bakery_gateway.serve.cli import main

raise SystemExit(main())
