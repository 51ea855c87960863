#!/usr/bin/env bash
# npm/build.sh VERSION DIST OUT: makes herd's npm packages from the
# binaries GoReleaser (or scripts/dist.sh) put in DIST
# (DIST/herd_OS_ARCH*/herd), as esbuild ships its binary:
#   OUT/herd-OS-CPU/  @herdhq/herd-OS-CPU, one binary, "os"/"cpu" set so
#                     that npm installs it only there (no install script)
#   OUT/herd/         @herdhq/herd: bin/herd.js, which runs the binary of
#                     the platform, and every platform package as an
#                     optional dependency of exactly VERSION
# and packs each with npm pack into OUT/*.tgz, ready for npm publish.
set -euo pipefail
version=${1:?usage: npm/build.sh VERSION DIST OUT} dist=${2:?DIST} out=${3:?OUT}
here=$(cd "$(dirname "$0")" && pwd)
version=${version#v}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# platform OS CPU BINARY: makes and packs @herdhq/herd-OS-CPU.
platform() {
  local os=$1 cpu=$2 bin=$3 dir="$out/herd-$1-$2"
  rm -rf "$dir" && mkdir -p "$dir/bin"
  cp "$bin" "$dir/bin/herd" && chmod 755 "$dir/bin/herd"
  printf 'The herd binary for %s/%s, installed by @herdhq/herd: see that package.\n' "$os" "$cpu" >"$dir/README.md"
  node -e '
    const [name, version, os, cpu] = process.argv.slice(1);
    const pkg = {name, version, description: `The ${os}-${cpu} binary of @herdhq/herd`,
      repository: {type: "git", url: "git+https://github.com/herdhq/herd.git"},
      os: [os], cpu: [cpu], files: ["bin/herd", "README.md"], preferUnplugged: true};
    require("fs").writeFileSync(process.argv[5], JSON.stringify(pkg, null, 2) + "\n");
  ' "@herdhq/herd-$os-$cpu" "$version" "$os" "$cpu" "$dir/package.json"
  (cd "$out" && npm pack --silent "$dir" >/dev/null)
}

# main: makes and packs @herdhq/herd, its optional dependencies at VERSION.
main() {
  local dir="$out/herd"
  rm -rf "$dir" && mkdir -p "$dir"
  cp -R "$here/herd/bin" "$dir/bin" && chmod 755 "$dir/bin/herd.js"
  cp "$here/../README.md" "$dir/README.md"
  node -e '
    const fs = require("fs"), [src, version, dst] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(src, "utf8"));
    pkg.version = version;
    for (const dep of Object.keys(pkg.optionalDependencies)) pkg.optionalDependencies[dep] = version;
    fs.writeFileSync(dst, JSON.stringify(pkg, null, 2) + "\n");
  ' "$here/herd/package.json" "$version" "$dir/package.json"
  (cd "$out" && npm pack --silent "$dir" >/dev/null)
}

found=0
for goos in linux darwin freebsd; do
  for goarch in amd64 arm64; do
    cpu=$goarch; [ "$goarch" = amd64 ] && cpu=x64
    for bin in "$dist"/herd_"${goos}"_"${goarch}"*/herd; do
      [ -f "$bin" ] || continue
      platform "$goos" "$cpu" "$bin"
      found=$((found + 1))
    done
  done
done
[ "$found" -gt 0 ] || { echo "npm/build.sh: no herd binary in $dist/herd_OS_ARCH*/" >&2; exit 1; }
main
ls "$out"/*.tgz
