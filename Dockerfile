# syntax=docker/dockerfile:1

# Parley: a multi-stage build. The SQLite driver uses cgo, so the binary is
# built with gcc against glibc and runs on a glibc base image.

# GO_VERSION is go.mod's go version (integration/readme_test.go checks it).
ARG GO_VERSION=1.26.8
ARG DEBIAN=bookworm

# ---- build ----------------------------------------------------------------
FROM golang:${GO_VERSION}-${DEBIAN} AS build
# golang:*-bookworm already carries gcc and libc6-dev for cgo.
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/parley ./cmd/parley \
 && mkdir -p /out/data

# ---- run ------------------------------------------------------------------
# distroless/base has glibc (what the cgo binary links against), CA
# certificates and a nonroot user (65532), and no shell or package manager.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/parley /usr/local/bin/parley
# An empty /data owned by the nonroot user, so that a fresh named volume
# mounted there is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV PARLEY_ADDR=:8080 \
    PARLEY_DB=/data/parley.db
VOLUME ["/data"]
EXPOSE 8080
# No shell or curl in the image: the binary is the health check's only tool,
# so leave health to the orchestrator's HTTP probes on /healthz and /readyz.
ENTRYPOINT ["/usr/local/bin/parley"]
