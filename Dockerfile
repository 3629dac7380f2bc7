# syntax=docker/dockerfile:1
#
# tallyq as one small image: a static binary (API, workers and migrations are
# all `tallyq <command>`) on Alpine, whose busybox wget lets docker-compose.yml
# health-check the API. Build with `docker compose build` or
# `docker build -t tallyq .`.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so that a change to the code does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0 gives a static binary that runs on any base; the go version
# check fails the build should a cgo dependency ever sneak in.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/tallyq ./cmd/tallyq \
    && go version -m /out/tallyq | grep -q 'CGO_ENABLED=0'

FROM alpine:3.22
COPY --from=build /out/tallyq /usr/local/bin/tallyq
# A numeric uid and gid, so that Kubernetes' runAsNonRoot can verify them
# without a passwd entry; tallyq writes no files at run time.
USER 65532:65532
# 8080: `tallyq serve` (API and /metrics); 9090: a worker's --metrics-addr.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/tallyq"]
CMD ["serve"]
