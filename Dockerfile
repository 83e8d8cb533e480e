# qwenbot images (Debian bookworm, Node 22), built from one Dockerfile:
#   target "app"    — adapters (what `npm start` runs); no CUDA libraries.
#   target "worker" — model workers (what `npm run worker` runs); node-llama-cpp's prebuilt CUDA binaries
#                     plus the CUDA runtime libraries they load. Without a GPU (or without the
#                     NVIDIA container toolkit) the same image runs the model on the CPU.
# docker compose builds both (see docker-compose.yml); `docker build .` builds the worker.
#
# The entry points run TypeScript through tsx, a devDependency: the image installs every
# dependency from the lockfile (`npm ci`), so what runs is exactly what the tests ran.
# The commands are `npm start` / `npm run worker` without npm in between: npm (through its
# `sh -c`) does not pass SIGTERM on, so `docker stop` would kill the process instead of letting
# running replies finish (SHUTDOWN_GRACE_MS). `node --import tsx` is what those scripts run.

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app

# ---------------------------------------------------------------------------------------------
FROM base AS deps
COPY package.json package-lock.json ./
# NODE_LLAMA_CPP_SKIP_DOWNLOAD: node-llama-cpp's postinstall would test-load (or even try to
# build) llama.cpp here, where there is no GPU; the prebuilt binaries come with the optional
# @node-llama-cpp/* packages and are picked at run time (build: "never" in loadModel).
RUN NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --include=dev \
 && npm cache clean --force

# ---------------------------------------------------------------------------------------------
FROM base AS app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY adapters ./adapters
COPY workers ./workers
COPY bin ./bin
RUN mkdir -p /app/models && chown node:node /app/models
USER node
CMD ["node", "--import", "tsx", "bin/start.ts"]

# ---------------------------------------------------------------------------------------------
FROM base AS worker
# The CUDA runtime for node-llama-cpp's prebuilt CUDA backends (the driver itself, libcuda, is
# mounted by the NVIDIA container toolkit). node-llama-cpp 3.21 ships a CUDA 13 backend and a
# CUDA 12 fallback it loads when CUDA 13 libraries are missing. The default, CUDA 12.8, runs on
# NVIDIA drivers >= 525 (minor-version compatibility; >= 570 recommended). For the CUDA 13
# backend (driver >= 580): --build-arg CUDA_PACKAGES="cuda-cudart-13-0 libcublas-13-0".
# For a CPU-only worker image: --build-arg CUDA_PACKAGES="".
ARG CUDA_PACKAGES="cuda-cudart-12-8 libcublas-12-8"
ARG CUDA_REPO=https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64
ADD ${CUDA_REPO}/cuda-keyring_1.1-1_all.deb /tmp/cuda-keyring.deb
RUN set -eux; \
    if [ -n "${CUDA_PACKAGES}" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends ca-certificates; \
      dpkg -i /tmp/cuda-keyring.deb; \
      apt-get update; \
      apt-get install -y --no-install-recommends ${CUDA_PACKAGES}; \
      ls -d /usr/local/cuda-*/targets/x86_64-linux/lib > /etc/ld.so.conf.d/zz-qwenbot-cuda.conf; \
      ldconfig; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    rm -f /tmp/cuda-keyring.deb
# What the NVIDIA container toolkit mounts into a container given a GPU: compute (libcuda) and
# utility (libnvidia-ml, which node-llama-cpp uses to detect the driver). Which GPU is given is
# the deployment's choice (docker-compose.yml reserves one per worker).
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY adapters ./adapters
COPY workers ./workers
COPY bin ./bin
RUN mkdir -p /app/models && chown node:node /app/models
USER node
CMD ["node", "--import", "tsx", "bin/worker.ts"]
