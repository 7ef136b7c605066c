{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "meshguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name; also the Service name the certificate is issued for. */}}
{{- define "meshguard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "meshguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "meshguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meshguard.labels" -}}
helm.sh/chart: {{ include "meshguard.chart" . }}
{{ include "meshguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meshguard
{{- end -}}

{{- define "meshguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meshguard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "meshguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret holding the serving certificate (tls.crt, tls.key) that the pods mount. */}}
{{- define "meshguard.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secret.name is required when tls.mode is secret" .Values.tls.secret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "meshguard.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The name of the serving Certificate in cert-manager mode. */}}
{{- define "meshguard.certificateName" -}}
{{- printf "%s-serving" (include "meshguard.fullname" .) -}}
{{- end -}}

{{/* The names kube-apiserver may use to reach the Service, as a list in YAML. */}}
{{- define "meshguard.dnsNames" -}}
{{- $svc := include "meshguard.fullname" . -}}
{{- $ns := .Release.Namespace -}}
- {{ $svc }}
- {{ $svc }}.{{ $ns }}
- {{ $svc }}.{{ $ns }}.svc
- {{ $svc }}.{{ $ns }}.svc.{{ .Values.clusterDomain }}
{{- end -}}

{{/*
In generate mode: the CA and serving certificate, as YAML with keys ca.crt, tls.crt, tls.key.
An existing Secret from an earlier install is reused so upgrades keep the same CA (and so the same
caBundle); otherwise they are generated. The result is memoised in .Values because the Secret and
both webhook configurations (separate templates) need the same CA, and every call to genCA makes a
new one.
*/}}
{{- define "meshguard.generatedTLS" -}}
{{- if not (hasKey .Values "__meshguardGeneratedTLS") -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "meshguard.tlsSecretName" .) | default dict -}}
{{- $data := dig "data" dict $existing -}}
{{- $tls := dict -}}
{{- if and (index $data "ca.crt") (index $data "tls.crt") (index $data "tls.key") -}}
{{- $tls = dict "ca.crt" (index $data "ca.crt" | b64dec) "tls.crt" (index $data "tls.crt" | b64dec) "tls.key" (index $data "tls.key" | b64dec) -}}
{{- else -}}
{{- $fullname := include "meshguard.fullname" . -}}
{{- $days := int .Values.tls.generate.validityDays -}}
{{- $ca := genCA (printf "%s-ca" $fullname) $days -}}
{{- $cn := printf "%s.%s.svc" $fullname .Release.Namespace -}}
{{- $cert := genSignedCert $cn nil (include "meshguard.dnsNames" . | fromYamlArray) $days $ca -}}
{{- $tls = dict "ca.crt" $ca.Cert "tls.crt" $cert.Cert "tls.key" $cert.Key -}}
{{- end -}}
{{- $_ := set .Values "__meshguardGeneratedTLS" $tls -}}
{{- end -}}
{{- toYaml (index .Values "__meshguardGeneratedTLS") -}}
{{- end -}}

{{/*
What a webhook configuration needs for TLS: in cert-manager mode the annotation that makes
cainjector fill caBundle; otherwise nothing (caBundle is in clientConfig, see meshguard.clientConfig).
*/}}
{{- define "meshguard.webhookAnnotations" -}}
{{- if eq .Values.tls.mode "cert-manager" -}}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "meshguard.certificateName" .) }}
{{- end -}}
{{- end -}}

{{/* A webhook's clientConfig. Call with (dict "ctx" $ "path" "/mutate"). */}}
{{- define "meshguard.clientConfig" -}}
{{- $ctx := .ctx -}}
service:
  name: {{ include "meshguard.fullname" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  path: {{ .path }}
  port: {{ $ctx.Values.service.port }}
{{- if eq $ctx.Values.tls.mode "generate" }}
caBundle: {{ index (include "meshguard.generatedTLS" $ctx | fromYaml) "ca.crt" | b64enc }}
{{- else if eq $ctx.Values.tls.mode "secret" }}
caBundle: {{ required "tls.secret.caBundle is required when tls.mode is secret" $ctx.Values.tls.secret.caBundle }}
{{- end }}
{{- end -}}

{{/*
Which namespaces the webhooks see. For namespaced objects this selects their namespace; for a
Namespace object it selects by the Namespace's own labels; it never applies to other cluster-scoped
objects (GatewayClass).
- System namespaces and meshguard's own are always left out: meshguard must never be able to block
  the control plane, Istio, or its own pods from starting.
- meshguard.io/enforcement=off always opts out (NotIn also matches namespaces without the label).
- opt-in additionally requires the label to be present.
*/}}
{{- define "meshguard.namespaceSelector" -}}
{{- $excluded := concat (list "kube-system" "kube-public" "kube-node-lease" "istio-system" .Release.Namespace) .Values.webhook.excludedNamespaces | uniq -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- toYaml $excluded | nindent 6 }}
  - key: meshguard.io/enforcement
    operator: NotIn
    values: ["off"]
{{- if eq .Values.webhook.namespaceSelection "opt-in" }}
  - key: meshguard.io/enforcement
    operator: Exists
{{- end }}
{{- end -}}

{{/*
matchConditions (CEL, evaluated by kube-apiserver before calling meshguard) that skip UPDATEs which
cannot change meshguard's answer. object is null on DELETE and oldObject on CREATE, so each
expression settles CREATE and DELETE by the operation before touching either; metadata fields are
read behind has() because an object may have no labels or annotations at all.
*/}}
{{- define "meshguard.cel.labelsChanged" -}}
(has(object.metadata.labels) ? object.metadata.labels : {}) != (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})
{{- end -}}

{{- define "meshguard.cel.annotationsChanged" -}}
(has(object.metadata.annotations) ? object.metadata.annotations : {}) != (has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {})
{{- end -}}

{{- define "meshguard.cel.specChanged" -}}
(has(object.spec) ? object.spec : {}) != (has(oldObject.spec) ? oldObject.spec : {})
{{- end -}}

{{/*
True when an UPDATE adds, removes or changes any of the given keys of metadata.labels or
metadata.annotations. Call with (dict "field" "labels" "keys" (list ...)). A key is compared only
once it is present on both sides; `in` on the {} stand-in covers objects without the map at all.
*/}}
{{- define "meshguard.cel.keysChanged" -}}
{{- $new := printf "(has(object.metadata.%s) ? object.metadata.%s : {})" .field .field -}}
{{- $old := printf "(has(oldObject.metadata.%s) ? oldObject.metadata.%s : {})" .field .field -}}
{{ toJson .keys }}.exists(k, (k in {{ $new }}) != (k in {{ $old }}) || (k in {{ $new }} && object.metadata.{{ .field }}[k] != oldObject.metadata.{{ .field }}[k]))
{{- end -}}

{{/*
What the pod mode rules read on a running pod (src/validate/pod-mode-change.ts: MODE_LABEL_KEYS,
MODE_ANNOTATION_KEYS, and meshguard's own decision annotation). The chart test checks these
against the source.
*/}}
{{- define "meshguard.podModeLabels" -}}
{{- toJson (list "istio.io/dataplane-mode" "sidecar.istio.io/inject") -}}
{{- end -}}

{{- define "meshguard.podModeAnnotations" -}}
{{- toJson (list "meshguard.io/mode" "sidecar.istio.io/inject" "meshguard.io/decision") -}}
{{- end -}}

{{/*
Where the pod checks of a Pod CREATE run (meshguard serve --pod-checks; src/mutate/admit-pod.ts
PodChecksAt). "mutating": in the mutating call every pod gets anyway, so an ordinary pod costs one
webhook call and no validating entry matches it (an entry that matches costs kube-apiserver a
conversion of the whole pod even when its matchConditions then skip the call). "validating": in
pods.validate.meshguard.io, which sees the pod after every mutation; chosen when the policy's catalog
reads more of a Pod than labels and annotations (Istio's injector may change the rest), or when the
checks must fail closed (podsFailurePolicy Fail, while the mutating call fails open).
*/}}
{{- define "meshguard.podChecksAt" -}}
{{- $keys := include "meshguard.podCheckKeys" . | fromJson -}}
{{- if or $keys.all (eq .Values.webhook.validating.podsFailurePolicy "Fail") -}}validating{{- else -}}mutating{{- end -}}
{{- end -}}

{{/*
What the validating checks of a Pod CREATE read (src/validate/pod-checks.ts podCheckKeys), as JSON
{"labels": [...], "annotations": [...], "all": bool}: istio.io/use-waypoint, and every label or
annotation the policy's deprecation catalog names for Pods. The bundled policy names the annotations
istio.io/for-service-account, sidecar.istio.io/statsCompression and
sidecar.istio.io/statsInclusionPrefixes (the chart test checks this against the source). A custom policy is
read here; if one of its Pod entries looks at anything but a label or an annotation, "all" is true
and every Pod CREATE is sent.
*/}}
{{- define "meshguard.podCheckKeys" -}}
{{- $labels := list "istio.io/use-waypoint" -}}
{{- $annotations := list -}}
{{- $all := false -}}
{{- if not .Values.policy -}}
{{- $annotations = list "istio.io/for-service-account" "sidecar.istio.io/statsCompression" "sidecar.istio.io/statsInclusionPrefixes" -}}
{{- else -}}
{{- $policy := .Values.policy -}}
{{- if kindIs "string" $policy }}{{ $policy = fromYaml $policy }}{{ end -}}
{{- range $entry := (get $policy "deprecations" | default list) -}}
{{- if and (eq (toString (get $entry "group")) "") (has "Pod" (get $entry "kinds" | default list)) -}}
{{- $paths := get $entry "path" | default list -}}
{{- if kindIs "string" $paths }}{{ $paths = list $paths }}{{ end -}}
{{- if not $paths }}{{ $all = true }}{{ end -}}
{{- range $path := $paths -}}
{{- $m := regexFind `^metadata\.(labels|annotations)(\["[^"]+"\]|\.[A-Za-z_][A-Za-z0-9_]*)$` $path -}}
{{- if not $m -}}
{{- $all = true -}}
{{- else -}}
{{- $key := regexReplaceAll `^metadata\.(labels|annotations)(\["|\.)([^"]+)("\])?$` $path "${3}" -}}
{{- if hasPrefix "metadata.labels" $path }}{{ $labels = append $labels $key }}{{ else }}{{ $annotations = append $annotations $key }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "labels" $labels "annotations" $annotations "all" $all) -}}
{{- end -}}

{{/* True when the object carries any of the given keys in metadata.labels or .annotations. Call with (dict "field" "labels" "keys" (list ...)). */}}
{{- define "meshguard.cel.anyKey" -}}
(has(object.metadata.{{ .field }}) && {{ toJson .keys }}.exists(k, k in object.metadata.{{ .field }}))
{{- end -}}

{{/* Whether the background audit runs: audit.interval is not zero (0, 0s, 0m...). */}}
{{- define "meshguard.auditOn" -}}
{{- if not (regexMatch "^0+(\\.0+)?(ms|s|m|h)?$" (toString .Values.audit.interval)) }}true{{- end }}
{{- end }}

{{/*
The report API's group and its namespaced and cluster-scoped resources (src/cluster-audit/report-objects.ts
REPORT_API), as JSON; empty when reports.api is none. Reports come from the background audit, so
asking for them with the audit off is an error here rather than a pod that silently writes nothing.
*/}}
{{- define "meshguard.reportApi" -}}
{{- $apis := dict "openreports" (dict "group" "openreports.io" "resources" (list "reports" "clusterreports")) "wgpolicyk8s" (dict "group" "wgpolicyk8s.io" "resources" (list "policyreports" "clusterpolicyreports")) -}}
{{- if ne .Values.reports.api "none" }}
{{- if not (include "meshguard.auditOn" .) }}
{{- fail (printf "reports.api=%s writes the background audit's results, but audit.interval=%v turns the audit off: set audit.interval (e.g. 5m) or reports.api=none" .Values.reports.api .Values.audit.interval) }}
{{- end }}
{{- toJson (get $apis .Values.reports.api) }}
{{- end }}
{{- end }}
