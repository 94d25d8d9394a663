# syntax=docker/dockerfile:1
# jitbot image: `docker build -t jitbot .`, then `docker run --env-file .env -p 3000:3000 jitbot`.
# Port 3000 (PORT) takes Slack's requests; 9100 (OPS_PORT: /healthz, /readyz, /metrics) stays unpublished.
# Two stages so the runtime image carries the virtualenv but no build tooling or source tree.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/jitbot \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
# uv itself, pinned with hashes; then exactly the runtime part of uv.lock (the same bits CI tested), first
# without the project so a code change does not re-download the dependencies.
COPY scripts/uv-requirements.txt ./scripts/
RUN pip install --no-deps --require-hashes --requirement scripts/uv-requirements.txt
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-default-groups --no-install-project --python /usr/local/bin/python
COPY bot ./bot
COPY jit ./jit
COPY sandbox ./sandbox
RUN uv sync --frozen --no-default-groups --no-editable --python /usr/local/bin/python

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="jitbot" \
      org.opencontainers.image.description="Slack ChatOps for just-in-time VM access on Azure"
# The user has no home, and the root filesystem may be read-only: matplotlib (the access review's chart) keeps
# its font cache under /tmp, which every deployment mounts writable.
ENV PATH="/opt/jitbot/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PORT=3000
RUN groupadd --system --gid 10001 jitbot \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin jitbot
COPY --from=builder /opt/jitbot /opt/jitbot
WORKDIR /app
# Numeric user so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 3000
# The slim image has no curl; the standard library is enough. /healthz on the operations port answers while the
# process is alive, in HTTP mode and in Socket Mode alike.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('OPS_PORT', '9100') + '/healthz', timeout=4)"]
ENTRYPOINT ["jitbot"]
CMD ["serve"]
