# syntax=docker/dockerfile:1.7
# SyncCash: one image for every role (api, worker, migrate, sandbox, serve).
#   docker build -t synccash .
#   docker run --rm -p 8000:8000 synccash serve --host 0.0.0.0     # the embedded default
# docker-compose.yml runs the production-like set (PostgreSQL, Redis, api, worker, sandboxes).

ARG PYTHON_VERSION=3.11

FROM ghcr.io/astral-sh/uv:0.5 AS uv

# --- build: a self-contained virtualenv in /app/.venv ------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# 1. Dependencies only: this layer is rebuilt when uv.lock or a pyproject.toml changes,
#    not when the sources do.
COPY pyproject.toml uv.lock ./
COPY packages/synccash-core/pyproject.toml packages/synccash-core/
COPY packages/synccash-adapters/pyproject.toml packages/synccash-adapters/
COPY packages/synccash-client/pyproject.toml packages/synccash-client/
COPY services/api/pyproject.toml services/api/
COPY services/worker/pyproject.toml services/worker/
COPY tools/pyproject.toml tools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-workspace

# 2. Our sources, installed non-editable so the runtime stage needs only the venv.
COPY packages packages
COPY services services
COPY tools tools
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

# --- runtime: no compiler, no uv, no sources, non-root ------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --system --gid 10001 synccash \
 && useradd --system --uid 10001 --gid synccash --home-dir /app --no-create-home synccash \
 && mkdir -p /app/var \
 && chown synccash:synccash /app/var
WORKDIR /app
COPY --from=build --chown=synccash:synccash /app/.venv /app/.venv
COPY --chown=synccash:synccash tools/scenarios /app/scenarios
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER synccash
EXPOSE 8000

# Liveness never touches dependencies; compose overrides it for the worker and sandbox roles.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/live', timeout=2)"]

ENTRYPOINT ["synccash"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
