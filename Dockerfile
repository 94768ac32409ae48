# Hexabot's container image: `hexabot run` (Socket Mode bot, HTTP side server on 8080, chat API
# on 8081 when platform tokens are configured).
#   docker build -t hexabot:0.1.0 .
# The base is pinned to an exact Python release on Debian 12 (slim); pin its digest too
# (python:3.11.11-slim-bookworm@sha256:…) in your registry mirror when you release.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY app ./app
COPY agents ./agents
COPY tools ./tools
COPY confirmations ./confirmations
COPY sandbox ./sandbox
# The migrations install with the wheel as the package hexabot_migrations (see setup.py).
COPY migrations ./migrations
RUN python -m venv /opt/hexabot \
 && /opt/hexabot/bin/pip install -c constraints.txt . \
 && /opt/hexabot/bin/python -m compileall -q /opt/hexabot/lib

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 hexabot \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin hexabot
COPY --from=build /opt/hexabot /opt/hexabot
ENV PATH=/opt/hexabot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEXABOT_HTTP_HOST=0.0.0.0 \
    HEXABOT_HTTP_PORT=8080 \
    HEXABOT_DATA_DIR=/tmp/hexabot
USER 10001:10001
EXPOSE 8080 8081
STOPSIGNAL SIGTERM
ENTRYPOINT ["hexabot"]
CMD ["run"]
