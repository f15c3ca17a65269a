# syntax=docker/dockerfile:1
# Build with the same `make install` the Makefile uses, then copy the venv into a slim,
# non-root runtime image.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.* \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md Makefile ./
COPY bot ./bot
COPY routing ./routing
COPY integrations ./integrations
COPY playbooks ./playbooks
RUN make install VENV=/opt/venv EDITABLE= PYTHON=python3

FROM python:3.11-slim
# journalctl: the logs.journald playbook action runs it (mount the host's journal and
# point a journald connection's directory: at it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends systemd=25* \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --home-dir /var/lib/firebell --uid 10001 firebell
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
USER 10001
WORKDIR /var/lib/firebell
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
# Mount a config at /var/lib/firebell/firebell.yaml (or set FIREBELL_CONFIG). Without
# credentials in it firebell refuses to listen on 0.0.0.0, by design.
CMD ["firebell", "serve", "--host", "0.0.0.0", "--port", "8080"]
