# One image for every Pipelogiq process (SPEC §1): `pipelogiq serve` (the default: everything,
# embedded), `pipelogiq api` and `pipelogiq engine` (distributed mode, see compose.yaml),
# `pipelogiq migrate`, `pipelogiq create-user`. Not built on the project's machines (no Docker
# engine there); tests/unit/test_containers.py checks the commands it names.
#
#   docker build --build-arg PIPELOGIQ_COMMIT=$(git rev-parse HEAD) -t pipelogiq .

# 1. The dashboard bundle.
FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

# 2. The wheel: setup.py packages the bundle built above, the migrations and the build info.
FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY migrations/ migrations/
COPY pipelogiq/ pipelogiq/
COPY --from=ui /src/ui/dist /src/ui-dist
ARG PIPELOGIQ_COMMIT=unknown
RUN PIPELOGIQ_UI_DIST=/src/ui-dist PIPELOGIQ_COMMIT=${PIPELOGIQ_COMMIT} \
    pip wheel --no-cache-dir --no-deps -w /wheels .

# 3. The runtime: the wheel and its dependencies, run as an unprivileged user.
FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/pipelogiq pipelogiq
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER pipelogiq
WORKDIR /var/lib/pipelogiq
ENV PYTHONUNBUFFERED=1
# internal API + dashboard, external API, metrics
EXPOSE 8080 8081 9090
ENTRYPOINT ["pipelogiq"]
CMD ["serve"]
