// The real label and annotation keys (istio/api label/labels.yaml, annotation/annotations.yaml) and
// meshguard's own. See ../shared/docs/istio-ambient-semantics.md sections 1 and 3.

export const ISTIO = {
  dataplaneMode: 'istio.io/dataplane-mode',
  injection: 'istio-injection',
  rev: 'istio.io/rev',
  sidecarInject: 'sidecar.istio.io/inject',
  sidecarStatus: 'sidecar.istio.io/status',
  useWaypoint: 'istio.io/use-waypoint',
  useWaypointNamespace: 'istio.io/use-waypoint-namespace',
  // Waypoint canaries (1.31): two labels and an annotation (getUseWaypointCanary, getCanaryWeight).
  useWaypointCanary: 'istio.io/use-waypoint-canary',
  useWaypointCanaryNamespace: 'istio.io/use-waypoint-canary-namespace',
  useWaypointCanaryWeight: 'istio.io/use-waypoint-canary-weight',
  waypointFor: 'istio.io/waypoint-for',
  forServiceAccount: 'istio.io/for-service-account',
} as const;

export const MESHGUARD = {
  enforcement: 'meshguard.io/enforcement',
  defaultMode: 'meshguard.io/default-mode',
  allowModeOverride: 'meshguard.io/allow-mode-override',
  modeOverride: 'meshguard.io/mode',
  decision: 'meshguard.io/decision',
} as const;

/** The class `istioctl waypoint generate` writes (its controller: gateway-classes.ts). */
export const WAYPOINT_CLASS = 'istio-waypoint';
