#!/usr/bin/env bash
# Build real kube-apiserver, etcd and helm from their Go modules into a
# per-version cache outside the repo. Idempotent: cached binaries are reused.
# stdout: KUBE_APISERVER=/ETCD=/HELM= lines (eval-able); progress on stderr.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"    # k8s.io/kubernetes (newest v1.34 patch)
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"  # go.etcd.io/etcd/server/v3 (newest v3.6 patch)
HELM_VERSION="${HELM_VERSION:-v3.22.0}"  # helm.sh/helm/v3 (newest v3.x)

# shellcheck source=go-build-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-build-lib.sh"

build_kube_apiserver() {
  local minor=${K8S_VERSION#v1.} gomod
  minor=${minor%%.*}
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  # k8s.io/kubernetes replaces its k8s.io/* staging modules with ./staging/...;
  # replace directives of dependencies are ignored, so mirror each one onto the
  # published v0.<minor>.<patch> tag (v1.34.4 -> v0.34.4), read from its go.mod.
  gomod=$(go list -m -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  local m reps=()
  for m in $(sed -nE 's#^[[:space:]]*(replace[[:space:]]+)?(k8s\.io/[^[:space:]]+)[[:space:]]+=>[[:space:]]+\./staging/.*#\2#p' "$gomod"); do
    reps+=("-replace=$m=$m@v0.${K8S_VERSION#v1.}")
  done
  ((${#reps[@]} > 20)) || { log "only ${#reps[@]} staging replaces found in $gomod"; return 1; }
  go mod edit "${reps[@]}"
  local pkg=k8s.io/component-base/version
  "${BUILD[@]}" -o "$1" -ldflags "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
    k8s.io/kubernetes/cmd/kube-apiserver
}

build_etcd() {
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  "${BUILD[@]}" -o "$1" -ldflags "-s -w" go.etcd.io/etcd/server/v3
}

build_helm() {
  go get "helm.sh/helm/v3@$HELM_VERSION"
  # Without this ldflag `helm version` reports only the source default ("v3.22").
  "${BUILD[@]}" -o "$1" -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    helm.sh/helm/v3/cmd/helm
}

build kube-apiserver "$K8S_VERSION" kube-apiserver build_kube_apiserver; KUBE_APISERVER=$out
build etcd "$ETCD_VERSION" etcd build_etcd; ETCD=$out
build helm "$HELM_VERSION" helm build_helm; HELM=$out

# Smoke-check that each binary runs and reports the pinned version. The output is captured before
# it is searched: `bin --version | grep -q` under pipefail fails when grep exits early (SIGPIPE).
kube_v=$("$KUBE_APISERVER" --version); etcd_v=$("$ETCD" --version); helm_v=$("$HELM" version --short)
[[ $kube_v == *"$K8S_VERSION"* ]] || { log "kube-apiserver version mismatch: $kube_v"; exit 1; }
[[ $etcd_v == *"${ETCD_VERSION#v}"* ]] || { log "etcd version mismatch: $etcd_v"; exit 1; }
[[ $helm_v == *"$HELM_VERSION"* ]] || { log "helm version mismatch: $helm_v"; exit 1; }
log "versions: $kube_v | ${etcd_v%%$'\n'*} | helm $helm_v"

echo "KUBE_APISERVER=$KUBE_APISERVER"
echo "ETCD=$ETCD"
echo "HELM=$HELM"
