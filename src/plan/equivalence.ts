// Does a namespace, migrated as planned, allow and deny the same requests as it did on sidecars?
// Requests are built from the values the policies name (and values none of them name), then judged
// twice with the evaluator: before, by each pod's sidecar with every policy that selects it; after,
// by the waypoint (targetRefs policies, seeing the client) and then by ztunnel at the pod (what it
// keeps of the selector policies, seeing the waypoint's identity).
import type { KubeObject } from '../kube.js';
import { isRecord, labelsOf, nameOf } from '../kube.js';
import { allows, ztunnelView, type AuthzRequest } from './authz-eval.js';
import { workloadSelectorOf } from './inventory.js';
import { selects } from './targets.js';

export interface Destination {
  pod: KubeObject;
  /** The Service the request is addressed to (undefined: straight to the pod). */
  service?: string;
  port: number;
}

export interface Mismatch {
  destination: string;
  request: AuthzRequest;
  before: boolean;
  after: boolean;
}

const DECIDING_ACTIONS = new Set(['ALLOW', 'DENY']);
const specOf = (o: KubeObject) => (isRecord(o.spec) ? o.spec : {});
const actionOf = (o: KubeObject) => (typeof specOf(o).action === 'string' ? (specOf(o).action as string) : 'ALLOW');
const isAuthz = (o: KubeObject) => o.kind === 'AuthorizationPolicy' && DECIDING_ACTIONS.has(actionOf(o));

/** Which selector-bound (or namespace-wide) AuthorizationPolicies apply to a pod: sidecar or ztunnel. */
function selecting(policies: KubeObject[], pod: KubeObject): KubeObject[] {
  return policies.filter((p) => isAuthz(p) && !targetRefsOf(p).length && selects(workloadSelectorOf(p), pod));
}

function targetRefsOf(p: KubeObject): Array<{ kind: string; name: string }> {
  const refs = specOf(p).targetRefs;
  return Array.isArray(refs) ? refs.filter(isRecord).map((r) => ({ kind: String(r.kind), name: String(r.name) })) : [];
}

/** The waypoint's policies for traffic to a Service: those targeting the Service or the waypoint Gateway. */
function atWaypoint(policies: KubeObject[], service: string, waypoint: string): KubeObject[] {
  return policies.filter((p) => isAuthz(p) && targetRefsOf(p).some((r) => (r.kind === 'Service' && r.name === service) || (r.kind === 'Gateway' && r.name === waypoint)));
}

/** Requests that exercise every value the policies name, and one value none of them names, per field. */
export function requestsFor(policies: KubeObject[], ports: number[]): AuthzRequest[] {
  const values = { principals: new Set<string>(), namespaces: new Set<string>(['outside']), methods: new Set(['PATCH']), paths: new Set(['/elsewhere']), requestPrincipals: new Set<string>() };
  // A pattern `/admin*` stands for `/adminx`, so both sides of every prefix or suffix get a request.
  const collect = (into: Set<string>, ...lists: unknown[]) => {
    for (const v of lists) if (Array.isArray(v)) for (const x of v) into.add(String(x).replace(/^\*/, 'x').replace(/\*$/, 'x'));
  };
  for (const p of policies)
    for (const rule of Array.isArray(specOf(p).rules) ? (specOf(p).rules as unknown[]) : []) {
      if (!isRecord(rule)) continue;
      for (const f of Array.isArray(rule.from) ? rule.from : []) {
        const s = isRecord(f) && isRecord(f.source) ? f.source : {};
        collect(values.principals, s.principals, s.notPrincipals);
        collect(values.namespaces, s.namespaces, s.notNamespaces);
        collect(values.requestPrincipals, s.requestPrincipals, s.notRequestPrincipals);
      }
      for (const t of Array.isArray(rule.to) ? rule.to : []) {
        const o = isRecord(t) && isRecord(t.operation) ? t.operation : {};
        collect(values.methods, o.methods, o.notMethods);
        collect(values.paths, o.paths, o.notPaths);
      }
    }
  const clients: Array<{ principal?: string; namespace?: string }> = [{}];
  for (const ns of values.namespaces) clients.push({ principal: `cluster.local/ns/${ns}/sa/default`, namespace: ns });
  for (const pr of values.principals) clients.push({ principal: pr, namespace: pr.match(/\/ns\/([^/]+)\//)?.[1] });
  const out: AuthzRequest[] = [];
  for (const client of clients)
    for (const requestPrincipal of [undefined, ...values.requestPrincipals])
      for (const method of values.methods)
        for (const path of values.paths)
          for (const port of ports) out.push({ ...client, ip: '10.1.2.3', ...(requestPrincipal && { requestPrincipal }), method, path, port, host: 'svc' });
  return out;
}

/**
 * Judges each request to each destination before and after. Service-addressed requests must get the
 * same answer; requests addressed straight to a pod may only be denied more (they skip the waypoint).
 */
export function compareMigration(opts: {
  before: KubeObject[];
  after: KubeObject[];
  destinations: Destination[];
  waypoint: string;
  waypointPrincipal: string;
  namespace: string;
}): { checked: number; mismatches: Mismatch[] } {
  const { before, after, destinations, waypoint, waypointPrincipal, namespace } = opts;
  const mismatches: Mismatch[] = [];
  let checked = 0;
  const requests = requestsFor(before, [...new Set(destinations.map((d) => d.port))]);
  for (const d of destinations) {
    const sidecar = selecting(before, d.pod);
    const ztunnel = selecting(after, d.pod).map(ztunnelView);
    const waypointPolicies = d.service ? atWaypoint(after, d.service, waypoint) : [];
    for (const req of requests.filter((r) => r.port === d.port)) {
      checked++;
      const was = allows(sidecar, req);
      const now = d.service
        ? allows(waypointPolicies, req) && allows(ztunnel, { principal: waypointPrincipal, namespace, ip: '10.9.9.9', port: req.port })
        : allows(ztunnel, { ...req, method: undefined, path: undefined, requestPrincipal: undefined });
      if (d.service ? was !== now : now && !was)
        mismatches.push({ destination: `${d.service ?? 'pod'} -> ${nameOf(d.pod)} (${JSON.stringify(labelsOf(d.pod))})`, request: req, before: was, after: now });
    }
  }
  return { checked, mismatches };
}
