# One image for every credledger process: the four services, the relay, the
# migrator and the gateway's config renderer. The command picks the role:
#   docker run credledger serve verification
#   docker run credledger relay
#   docker run credledger migrate

# Build a wheel in a throwaway stage, so the runtime image has no build
# tools and no source tree beyond what the wheel installs.
FROM python:3.11-slim AS build
WORKDIR /src
# README.m[d]: pyproject names it as the long description; the glob keeps
# the build working while it is absent.
# The optional C accelerators (setup.py: the audit's, the verifier's
# eddsa-jcs-2022 one) need gcc and the OpenSSL headers. They stay in this
# stage; the runtime image already has the libssl3 the extensions link
# against. Should they be missing, the build skips them with a warning and
# `audit verify` and the verifier run their pure-Python code (the same
# results, slower: docs/performance.md).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.m[d] ./
COPY shared ./shared
COPY services ./services
COPY credledger ./credledger
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CREDLEDGER_HOST=0.0.0.0 \
    CREDLEDGER_LOG_FORMAT=json \
    CREDLEDGER_GATEWAY_TEMPLATES=/opt/credledger/gateway
COPY --from=build /wheels /wheels
# /gateway receives the gateway's rendered config (a volume shared with the
# nginx container in docker-compose.yml); a new volume takes its owner.
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin credledger \
    && mkdir /gateway && chown credledger /gateway
COPY deploy/gateway /opt/credledger/gateway
USER credledger
EXPOSE 8081 8082 8083 8084 8085
ENTRYPOINT ["credledger"]
CMD ["serve", "registry"]
