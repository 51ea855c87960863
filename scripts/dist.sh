#!/usr/bin/env bash
# scripts/dist.sh VERSION [OS/ARCH...]: builds herd into dist/ as
# GoReleaser does (.goreleaser.yaml): dist/herd_OS_ARCH_VARIANT/herd,
# static, with the version and commit in `herd version`. Default: the
# six release targets (linux, darwin, freebsd on amd64 and arm64).
# DIST=dir overrides dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/dist.sh VERSION [OS/ARCH...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64 freebsd/arm64)
dist=${DIST:-dist}
commit=$(git rev-parse HEAD 2>/dev/null || echo none)
for t in "${targets[@]}"; do
  os=${t%/*} arch=${t#*/}
  case $arch in amd64) variant=_v1 ;; arm64) variant=_v8.0 ;; *) variant= ;; esac # GoReleaser's folder names
  out="$dist/herd_${os}_${arch}${variant}/herd"
  echo "build $out"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" -o "$out" ./cmd/herd
done
