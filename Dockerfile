# paperboy: a slim, non-root image; the database lives on the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERBOY_CONFIG=/etc/paperboy/config.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin paperboy \
    && mkdir -p /data /etc/paperboy \
    && chown paperboy:paperboy /data
COPY deploy/config.docker.toml /etc/paperboy/config.toml

USER paperboy
VOLUME ["/data"]

# Healthy while the running bot's heartbeat (written every minute) is fresh.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["paperboy", "healthcheck"]

ENTRYPOINT ["paperboy"]
CMD ["run"]
