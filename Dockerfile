# runbook-bot's image: `runbook-bot socket` by default, /healthz probed on port 3000.
#
# Offline build (what tests/deploy/test_image.py does; no network needed at build time):
#
#   .venv/bin/pip wheel --wheel-dir wheels '.[postgres]'
#   docker build --network none --build-arg VERSION=0.1.0 -t runbook-bot:0.1.0 .
#
# Make the wheels with the same Python (down to the patch release) and platform as the base's
# python3: pip resolves environment markers for the Python that runs it, e.g. redis needs
# async-timeout only below 3.11.3. tests/support/target_wheels.py tops a folder up for another.
#
# Without a wheels/ folder the builder installs from this checkout and fetches the dependencies
# from PyPI. Any Debian-based image with python3 >= 3.11 and `python3 -m venv` works as the base:
#
#   docker build --build-arg BASE_IMAGE=my-registry/debian-python:bookworm .
#
# Both stages use `python3`, never `python`: Debian's own python3 ships no `python` symlink.

ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtualenv with the bot and its dependencies ---------------------------------
FROM ${BASE_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The context is filtered by .dockerignore; wheels/ is let through on purpose.
COPY . /src

# Pure-wheel install: no compiler is needed here, and none reaches the final stage anyway.
# pip and setuptools are removed afterwards: the running bot installs nothing.
# The last line fails the build when the playbooks bundled into the wheel are missing or invalid.
RUN python3 -m venv /opt/runbook-bot \
 && if ls /src/wheels/*.whl >/dev/null 2>&1; then \
        /opt/runbook-bot/bin/pip install --no-index --find-links /src/wheels 'runbook-bot[postgres]'; \
    else \
        /opt/runbook-bot/bin/pip install '/src[postgres]'; \
    fi \
 && /opt/runbook-bot/bin/pip uninstall --yes setuptools pip \
 && /opt/runbook-bot/bin/runbook-bot lint

# --- final: the same base, the virtualenv, a non-root user -----------------------------------
FROM ${BASE_IMAGE}

ARG VERSION=dev
LABEL org.opencontainers.image.title="runbook-bot" \
      org.opencontainers.image.description="Incident-response ChatOps bot that runs operational runbooks as playbooks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed UID, so Kubernetes' runAsUser and volume ownership can name it.
RUN useradd --system --uid 10001 --user-group --no-log-init \
        --home-dir /var/lib/runbook-bot --create-home --shell /usr/sbin/nologin runbook-bot

COPY --from=builder /opt/runbook-bot /opt/runbook-bot

# The embedded store (used when REDIS_URL is unset) lives in the user's writable home.
ENV PATH=/opt/runbook-bot/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RUNBOOK_BOT_STATE=/var/lib/runbook-bot/incidents.db

WORKDIR /var/lib/runbook-bot
USER 10001:10001
EXPOSE 3000

# urllib, since a minimal base has no curl; no proxy, since HTTP_PROXY must not catch loopback.
# It probes the default port: with --port set differently, override the check too.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:3000/healthz', timeout=4)"]

ENTRYPOINT ["runbook-bot"]
CMD ["socket"]
