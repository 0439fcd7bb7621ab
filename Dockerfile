# mockserver in a container: non-root, listening on 0.0.0.0:8080, with a health check.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY mockserver ./mockserver
COPY specs ./specs
COPY fixtures ./fixtures
# The same install step CI runs (pip install .), then drop the sources.
RUN pip install --no-cache-dir . \
    && rm -rf /src \
    && useradd --create-home --uid 10001 mock

USER mock
WORKDIR /home/mock
# Check the bundled descriptions once at build time: the passes are remembered, so each
# container start skips the OpenAPI check (mockserver/verdicts.py).
RUN mockserver check
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/__mock/health', timeout=2)"]
ENTRYPOINT ["mockserver"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
