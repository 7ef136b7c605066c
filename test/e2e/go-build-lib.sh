# Sourced by test/e2e/build-binaries.sh and bench/analyze/build-istioctl.sh: build Go binaries from
# their modules into a per-version cache outside the repo; cached binaries are reused.
# -mod=mod lets `go build` add missing requirements to the throwaway wrapper go.mod; static,
# path-independent binaries; 2 cores -> -p 2.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/meshguard/e2e"
export GOFLAGS="-mod=mod ${GOFLAGS:-}" CGO_ENABLED=0
BUILD=(go build -p 2 -trimpath)

log() { echo "[${LOG_TAG:-build-binaries}] $*" >&2; }

# build NAME VERSION BIN FUNC: unless cached, run FUNC <output-path> inside a
# fresh wrapper module at $CACHE/src/NAME-VERSION. Sets $out to the binary.
build() {
  local name=$1 version=$2 bin=$3 fn=$4
  out="$CACHE/$name-$version/$bin"
  if [[ -x $out ]]; then log "$name $version: cached ($out)"; return; fi
  local src="$CACHE/src/$name-$version" start
  start=$(date +%s)
  log "$name $version: building in $src"
  rm -rf "$src" && mkdir -p "$src" "${out%/*}"
  # Build to a temp name and rename, so an interrupted build is never "cached".
  (cd "$src"; go mod init "meshguard-e2e/$name"; "$fn" "$out.tmp") >&2
  mv "$out.tmp" "$out"
  log "$name $version: built in $(($(date +%s) - start))s"
}
