# falbot in a container: `docker build -t falbot .`, then
#   docker run -d --name falbot --env-file falbot.env -v falbot-data:/data -p 8080:8080 \
#     --ulimit nofile=65536:65536 falbot
# (every HTTP connection holds an open file: falbot keeps its connections under the limit, and
# Docker's default may be 1,024; /metrics is on FALBOT_METRICS_PORT, loopback unless
# FALBOT_METRICS_HOST says otherwise: publish it only to your monitoring network.)
# (falbot.env holds FAL_KEY and the platform tokens; see the README's settings table).
# tests/e2e/test_docker_steps.py runs these steps in order outside Docker, so CI proves them.

# --- build: falbot and its dependencies in a virtualenv -------------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY core ./core
COPY adapters ./adapters
COPY bot ./bot
RUN /opt/venv/bin/pip install .

# --- run: the virtualenv alone, as an unprivileged user ------------------------------------
FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin falbot \
 && mkdir -p /data \
 && chown falbot:falbot /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    FALBOT_DATABASE=sqlite:////data/falbot.db \
    FALBOT_HTTP_PORT=8080
WORKDIR /data
USER falbot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('FALBOT_HTTP_PORT', '8080') + '/healthz', timeout=4)"]
CMD ["falbot", "run"]
