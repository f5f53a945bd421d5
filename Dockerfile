# dreamgen: the web app, worker threads and CLI in one image, on a CUDA-capable PyTorch base.
#   docker build -t dreamgen .
#   docker run --gpus all -p 8000:8000 -e DREAMGEN_ADMIN_TOKEN=<a long random string> \
#       -v dreamgen-data:/data -v dreamgen-weights:/weights dreamgen
#   docker run --rm -v dreamgen-weights:/weights dreamgen dreamgen weights download
# MicroAST and "Painterly (slow)" work at once: their weights are inside the package. The
# others are fetched into /weights on the admin page (http://<host>:8000/admin, with the admin
# token: DREAMGEN_ADMIN_TOKEN, or the one made in /data/admin-token whose sign-in link the log
# shows; `dreamgen admin token` prints it) or by the command.
ARG BASE_IMAGE=pytorch/pytorch:2.14.1-cuda12.8-cudnn9-runtime

# ---- stage 1: the wheel (templates, static files, migrations and the bundled weights become
# package data) and the list of its dependencies
FROM ${BASE_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
RUN mkdir /deps && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /deps/requirements.txt
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY alembic ./alembic
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# ---- stage 2: the image: the wheel installed into site-packages, no source tree
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

# Dependencies first: this layer is reused while only the code changes (torch and torchvision
# come from the base image when their versions match the pins).
COPY --from=wheel /deps/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY --from=wheel /dist/ /tmp/dist/
# The check fails the build if the bundled weights did not make it into the image.
RUN pip install --no-deps /tmp/dist/dreamgen-*.whl && rm -rf /tmp/dist \
    && python -c "from pathlib import Path; from app.engine.weights.store import WeightStore; store = WeightStore(cache_dir=Path('/nonexistent')); assert all(store.engine_ready(e) for e in ('microast', 'gatys-lite')), 'bundled weights missing'" \
    && useradd --create-home --uid 1000 dreamgen \
    && mkdir -p /data /weights && chown dreamgen:dreamgen /data /weights

USER dreamgen
WORKDIR /home/dreamgen
VOLUME ["/data", "/weights"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["dreamgen", "serve", "--host", "0.0.0.0"]
