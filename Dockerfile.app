# The demo app (app_under_test/) under gunicorn, instrumented by the add-on installed from this
# repository. Build from the repository root; the tag is the one version number:
#   docker build -f Dockerfile.app -t ghcr.io/vigilante/vigilante-app:"$(python3 -c 'import vigilante; print(vigilante.__version__)')" .
#
# The base image is pinned by digest (python:3.11.10-slim-bookworm); refresh both FROM lines with
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{json .Manifest.Digest}}'

FROM python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16 AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
# The package is one `vigilante` built from its three folders.
COPY addon/ addon/
COPY rules/ rules/
COPY dashboards_py/ dashboards_py/
RUN /opt/venv/bin/pip install --no-cache-dir ".[app]"

FROM python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TICKETS_INSTANCE_PATH=/var/lib/tickets
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/tickets \
    && chown app:app /var/lib/tickets
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY app_under_test/ app_under_test/
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# One process with threads (see README "Benchmarks"). Each thread reads one client's request
# to the end, so a client that sends half a request holds a thread: 16 threads keep the app
# answering past a dozen such clients when no buffering proxy is in front (the Ingress
# controller buffers in Kubernetes). --timeout restarts a worker whose main loop hangs.
# For several workers, add `--workers N` and set PROMETHEUS_MULTIPROC_DIR
# (manifests/components/multiprocess does both halves in Kubernetes but the worker count);
# the hooks module is loaded either way.
CMD ["gunicorn", "--config", "python:vigilante.gunicorn_hooks", "--bind", "0.0.0.0:8000", "--workers", "1", "--worker-class", "gthread", "--threads", "16", "--timeout", "30", "--worker-tmp-dir", "/tmp", "--access-logfile", "-", "app_under_test:create_app()"]
