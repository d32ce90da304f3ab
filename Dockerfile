# Tastemaker worker image: `docker build -t tastemaker .` then `docker run tastemaker` (see docs/operations.md).
# Not built on the development machines (no Docker engine there); kept correct by review against the docs.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TASTEMAKER_DATA_DIR=/var/lib/tastemaker \
    TASTEMAKER_WEB_BIND=0.0.0.0

RUN groupadd --system --gid 10001 tastemaker \
 && useradd --system --uid 10001 --gid tastemaker --no-create-home --shell /usr/sbin/nologin tastemaker \
 && install -d -o tastemaker -g tastemaker /var/lib/tastemaker

WORKDIR /opt/tastemaker
# Dependencies are pinned in pyproject.toml. All have manylinux wheels for CPython 3.11 except LightFM, whose
# wheel does not import on glibc >= 2.31: it is built from its sdist (as the Makefile does), portable flags,
# with a compiler that is removed again in the same layer.
COPY pyproject.toml README.md ./
COPY app ./app
COPY agents ./agents
COPY tables ./tables
COPY models ./models
COPY tastemaker ./tastemaker
# Served by the worker at /tracker.js and /demo, found in the working directory (app/web/tracker.py).
COPY tracker ./tracker
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && PIP_NO_BINARY=lightfm-next LIGHTFM_NO_CFLAGS=1 pip install --no-compile . \
 && python -c "import lightfm" \
 && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/* /root/.cache

USER tastemaker
VOLUME ["/var/lib/tastemaker"]
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('TASTEMAKER_WEB_PORT', '6066'), timeout=2)"]
ENTRYPOINT ["faust", "-A", "app", "worker"]
CMD ["-l", "info"]
