# The uptime monitor in a container: `-m --web` by default, `agent ...` as the command for
# an agent. Build: `docker build -t uptime-monitor .`; run and compose: docs/deploy.md.
#
# Two stages: the first builds the virtualenv (with a compiler and libcurl's headers, for
# any package that has no wheel for the platform), the second copies it into a slim image
# that runs as a user of its own, with its state in a volume and its config read-only.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libcurl4-openssl-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# The dependencies first, from the metadata alone (monitor/__init__.py holds the version):
# a change of the code then rebuilds the last layer only.
COPY setup.cfg pyproject.toml README.md ./
COPY monitor/__init__.py monitor/__init__.py
# pycurl is the PyPI wheel where there is one (its libcurl 8 is the one the tests run
# against; Debian 12's libcurl 7.88 fails two of them), built from source elsewhere.
# The `postgres` extra brings psycopg for `-db postgresql://...`.
RUN pip install ".[postgres]" && pip uninstall -y uptime-monitor
COPY monitor monitor
RUN pip install --no-deps . \
    && python -c "import monitor.web, pycurl, psycopg; print(pycurl.version)"

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/venv /opt/venv
# tini as PID 1 forwards SIGTERM and SIGHUP to the monitor and reaps what it did not.
# libcurl only when pycurl was built against the system's (no wheel for this platform).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && if ldd /opt/venv/lib/python3*/site-packages/pycurl/_pycurl*.so \
            | grep -q "libcurl.so.4 => not found"; then \
           apt-get install -y --no-install-recommends libcurl4; fi \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid, so that a bound folder can be given to it (chown 10001 on the host).
RUN groupadd --system --gid 10001 uptime-monitor \
    && useradd --system --uid 10001 --gid uptime-monitor --no-create-home \
         --home-dir /var/lib/uptime-monitor --shell /usr/sbin/nologin uptime-monitor \
    && install -d -o uptime-monitor -g uptime-monitor -m 0700 /var/lib/uptime-monitor \
    && install -d -m 0755 /etc/uptime-monitor
COPY monitoringApp.py /usr/local/bin/monitoringApp.py
RUN chmod 0755 /usr/local/bin/monitoringApp.py \
    && monitoringApp.py --version

# No secret here: tokens and passwords come from the environment at run time (config.json
# names them as ${VAR}), never from the image.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NO_COLOR=1 \
    MONITOR_HEALTH_URL=http://127.0.0.1:8080/api/v1/health

USER 10001:10001
WORKDIR /var/lib/uptime-monitor
# The SQLite database, its lock and the web session key; the config is mounted read-only
# at /etc/uptime-monitor/config.json.
VOLUME ["/var/lib/uptime-monitor"]
EXPOSE 8080
# SIGTERM (or SIGINT) stops after the queued checks are committed; a second one stops at
# once. SIGHUP reloads config.json: `docker kill -s HUP <container>`.
STOPSIGNAL SIGTERM
# The server's own /api/v1/health (200 when the database records, 503 when it cannot).
# With apiTokens (needed to listen beyond loopback) the call needs a token: any token of
# the config, given as MONITOR_HEALTH_TOKEN (a read-scope one is enough). No proxy: the
# server is this container.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-c", "import os, sys, urllib.error, urllib.request as u\nrequest = u.Request(os.environ.get('MONITOR_HEALTH_URL', 'http://127.0.0.1:8080/api/v1/health'))\ntoken = os.environ.get('MONITOR_HEALTH_TOKEN')\nif token:\n    request.add_header('Authorization', 'Bearer ' + token)\ntry:\n    body = u.build_opener(u.ProxyHandler({})).open(request, timeout=5).read()\nexcept urllib.error.HTTPError as exc:\n    sys.exit(f'unhealthy: HTTP {exc.code}: {exc.read(300).decode(errors=\"replace\")}')\nexcept OSError as exc:\n    sys.exit(f'unhealthy: {exc}')\nprint(body.decode(errors='replace'))"]

ENTRYPOINT ["tini", "--", "monitoringApp.py"]
# -s: no stats tables in the container's log (the web pages, -r and -a show them);
# warnings and errors still go to stderr.
CMD ["-m", "-s", "-c", "/etc/uptime-monitor/config.json", \
     "-db", "/var/lib/uptime-monitor/monitoring.db", "--web", "0.0.0.0:8080"]
