# mockserver in a container: non-root, with a liveness check. Settings come from MOCKSERVER_*
# variables (docker run -e MOCKSERVER_PORT=9000 ...): the command passes no flags that would
# override them.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MOCKSERVER_HOST=0.0.0.0 \
    MOCKSERVER_PORT=8080

WORKDIR /src
# The dependencies first, in a layer of their own: a change to the sources does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-cache-dir -r requirements.txt
# Then the package alone (pip install . as CI runs it, without the dependencies), and drop the sources.
COPY README.md ./
COPY mockserver ./mockserver
COPY specs ./specs
COPY fixtures ./fixtures
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /src \
    && useradd --create-home --uid 10001 mock

USER mock
WORKDIR /home/mock
# Check the bundled descriptions once at build time: the passes are remembered, so each
# container start skips the OpenAPI check (mockserver/verdicts.py).
RUN mockserver check
EXPOSE 8080
# /__mock/live needs no control token and answers any Host; the port is the one the server uses.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:%s/__mock/live' % os.environ['MOCKSERVER_PORT'], timeout=2)"]
ENTRYPOINT ["mockserver"]
CMD ["serve"]
