# dreamgen: the web app, worker threads and CLI in one image, on a CUDA-capable PyTorch base.
#   docker build -t dreamgen .
#   docker run --gpus all -p 8000:8000 -v dreamgen-data:/data -v dreamgen-weights:/weights dreamgen
#   docker run --rm -v dreamgen-weights:/weights dreamgen dreamgen weights download
ARG BASE_IMAGE=pytorch/pytorch:2.14.1-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DREAMGEN_DATA_DIR=/data \
    DREAMGEN_WEIGHTS_DIR=/weights \
    DREAMGEN_WEIGHTS_CACHE_DIR=/weights \
    DREAMGEN_HOST=0.0.0.0 \
    DREAMGEN_PORT=8000

WORKDIR /app
# Dependencies first (cached while only the code changes); torch comes from the base image
# when its version matches the pin.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py && pip install . && pip uninstall -y dreamgen
# The code, templates, static files and migrations; installed in place because the app reads
# templates/, static/ and alembic/ from beside the package.
COPY app ./app
COPY alembic ./alembic
COPY alembic.ini ./
COPY templates ./templates
COPY static ./static
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 1000 dreamgen \
    && mkdir -p /data /weights && chown dreamgen:dreamgen /data /weights

USER dreamgen
VOLUME ["/data", "/weights"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/engines', timeout=4)"
CMD ["dreamgen", "serve", "--host", "0.0.0.0"]
