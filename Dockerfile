# bakery-gateway serve: the gateway as a long-lived server for containers (docs/standalone.md).
# Build: docker build -t bakery-gateway .   Run: docker run -p 8000:8000 -e REDIS_HOST=... -e JWT_PUBLIC_KEYS=... bakery-gateway
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# What `pip install` builds from; nothing else of the repository (.dockerignore). serve runs from
# the installed package alone: no template.yaml (its routes are the library's route table).
COPY pyproject.toml ./
COPY layers/shared ./layers/shared
COPY functions ./functions
COPY local ./local

# The package with its runtime dependencies and the server's (uvicorn, PyYAML); no dev tools, no
# fakeredis. The sources are removed once installed. A system user without a home or shell runs it.
RUN pip install '.[serve]' \
    && rm -rf build ./*.egg-info pyproject.toml layers functions local \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gateway

USER 10001

EXPOSE 8000

# GET /health: the proxy function's own health (one Redis GET, no downstream call; docs/health.md).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]

# Workers default to the CPUs the container may use (WEB_CONCURRENCY or --workers to override);
# SIGTERM (docker stop) drains in-flight requests for --graceful-timeout seconds.
CMD ["bakery-gateway", "serve", "--host", "0.0.0.0", "--port", "8000"]
