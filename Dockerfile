# syntax=docker/dockerfile:1
# Seamline: one image for every role. `docker run IMAGE` runs the supervisor with every role
# on the embedded stores; `serve --role collect|pipeline|deliver` runs one role (compose.yaml,
# docs/deployment.md). Untested: images cannot be built on the machine this was written on.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The runtime dependencies alone first, read from pyproject.toml (no test extras): this layer
# is rebuilt when they change, not on every change to the source.
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('requirements.txt', 'w').write('\n'.join(deps))" \
    && pip install -r requirements.txt
COPY README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/pip pip install --no-deps .

FROM python:${PYTHON_VERSION}-slim
# A fixed uid, so files on a bind mount or a shared lake belong to a known owner.
RUN groupadd --system --gid 10001 seamline \
    && useradd --system --uid 10001 --gid seamline --home-dir /data --no-create-home seamline \
    && mkdir /data /lake \
    && chown seamline:seamline /data /lake
COPY --from=build /opt/venv /opt/venv
# The bytecode was compiled at install time; the venv is root's, so nothing is written there.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SEAMLINE_DATA_DIR=/data \
    SEAMLINE_HOST=0.0.0.0 \
    SEAMLINE_PORT=8088
USER seamline
WORKDIR /data
# A new named volume is created with the ownership of the image's directory, so /data and
# /lake are writable by the seamline user without a chown at start.
VOLUME ["/data"]
EXPOSE 8088
# Python, as slim has no curl. Only roles that serve HTTP (the supervisor, collect, all) answer
# /healthz: compose.yaml disables this check for pipeline and deliver.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SEAMLINE_PORT', '8088'), timeout=4)"
ENTRYPOINT ["seamline"]
CMD ["serve"]
