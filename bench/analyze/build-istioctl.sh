#!/usr/bin/env bash
# Build istioctl from Istio's Go module into the e2e binaries' cache (test/e2e/go-build-lib.sh:
# wrapper module, -trimpath, temp name then rename, cached reuse). Not part of npm test.
# stdout: ISTIOCTL= and ISTIO_MODULE_DIR= lines (eval-able); progress on stderr.
#
# The Go module proxy serves istio.io/istio only as pseudo-versions (Istio tags its releases
# without Go's semver "v" module tags). The newest, and the only one the proxy offers here, is this
# one: "still served from an earlier copy, not an approved release". Its VERSION file says 1.31.
set -euo pipefail

ISTIO_MODULE="${ISTIO_MODULE:-v0.0.0-20260827124520-eed52ebb66ad}"  # istio.io/istio, not a release

LOG_TAG=build-istioctl
# shellcheck source=../../test/e2e/go-build-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../test/e2e/go-build-lib.sh"

build_istioctl() {
  go mod edit -require="istio.io/istio@$ISTIO_MODULE"
  # Replace directives of a dependency are ignored, so mirror istio's own onto the wrapper
  # (it has none at this version; a local-path replace could not be mirrored: stop then).
  local gomod line reps=()
  gomod=$(go list -m -json "istio.io/istio@$ISTIO_MODULE" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  while read -r line; do
    [[ $line =~ ^([^[:space:]]+)([[:space:]]+[^[:space:]]+)?[[:space:]]+=\>[[:space:]]+([^[:space:]]+)[[:space:]]*([^[:space:]]*)$ ]] ||
      { log "cannot read replace directive: $line"; return 1; }
    local old=${BASH_REMATCH[1]} new=${BASH_REMATCH[3]} ver=${BASH_REMATCH[4]}
    [[ $new == .* || $new == /* ]] && { log "istio's go.mod replaces $old with a local path ($new)"; return 1; }
    reps+=("-replace=$old=$new${ver:+@$ver}")
  done < <(awk '/^replace \(/{b=1;next} b&&/^\)/{b=0} b{print;next} /^replace /{sub(/^replace /,"");print}' "$gomod")
  ((${#reps[@]} == 0)) || go mod edit "${reps[@]}"
  log "mirrored ${#reps[@]} replace directive(s) from $gomod"
  "${BUILD[@]}" -o "$1" -ldflags "-s -w -X istio.io/istio/pkg/version.buildVersion=$ISTIO_MODULE -X istio.io/istio/pkg/version.buildStatus=module" \
    istio.io/istio/istioctl/cmd/istioctl
}

build istioctl "$ISTIO_MODULE" istioctl build_istioctl; ISTIOCTL=$out

# Smoke check (output captured before it is searched: grep -q under pipefail can SIGPIPE the binary).
version=$("$ISTIOCTL" version --remote=false 2>&1)
[[ $version == *"$ISTIO_MODULE"* ]] || { log "istioctl version mismatch: $version"; exit 1; }
dir=$(go mod download -json "istio.io/istio@$ISTIO_MODULE" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[[ -d $dir/samples ]] || { log "no samples/ in $dir"; exit 1; }
log "istioctl $version; Istio $(cat "$dir/VERSION") sources in $dir"

echo "ISTIOCTL=$ISTIOCTL"
echo "ISTIO_MODULE_DIR=$dir"
