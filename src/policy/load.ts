import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { ISTIO_VERSIONS, isIstioVersion, LATEST_ISTIO_VERSION } from '../istio-version.js';
import { policySchema } from './schema.js';
import type { Policy } from './types.js';

/** The policy shipped with meshguard (works from src/ under tests and from dist/ when built). */
export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../policies/default.yaml', import.meta.url));

export class PolicyError extends Error {}

const validatePolicy = new Ajv({ allErrors: true, useDefaults: true }).compile(policySchema);

/**
 * The policy judged for another Istio version (`--istio-version`); the version must be one
 * meshguard knows, or this is a PolicyError that lists them.
 */
export function withIstioVersion(policy: Policy, istioVersion: string | undefined): Policy {
  if (istioVersion === undefined) return policy;
  if (!isIstioVersion(istioVersion))
    throw new PolicyError(`--istio-version: "${istioVersion}" is not an Istio version meshguard knows; use one of ${ISTIO_VERSIONS.join(', ')}`);
  return { ...policy, istioVersion };
}

export function loadPolicyFile(file: string = DEFAULT_POLICY_FILE): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${file}: ${(err as Error).message}`);
  }
  return parsePolicy(text, file);
}

export function parsePolicy(text: string, source = 'policy'): Policy {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new PolicyError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  if (!validatePolicy(doc)) {
    const problems = (validatePolicy.errors ?? []).map((e) => {
      const field = e.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(top level)';
      const extra = e.params as { additionalProperty?: string; propertyName?: string; allowedValues?: unknown[] };
      const detail = extra.additionalProperty
        ? `unknown field "${extra.additionalProperty}"`
        : extra.allowedValues
          ? `${e.message}: ${extra.allowedValues.join(', ')}`
          : e.message;
      return `${field}: ${detail}`;
    });
    throw new PolicyError(`${source}: invalid policy:\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  const d = doc as Partial<Policy> & Pick<Policy, 'clusterDefaultMode'>;
  return {
    istioVersion: d.istioVersion ?? LATEST_ISTIO_VERSION,
    clusterDefaultMode: d.clusterDefaultMode,
    clusterEnforcement: d.clusterEnforcement ?? 'enforce',
    rootNamespace: d.rootNamespace ?? 'istio-system',
    sidecarOnlyAnnotations: d.sidecarOnlyAnnotations ?? [],
    noSidecarOwnerKinds: d.noSidecarOwnerKinds ?? ['Job', 'DaemonSet'],
    rules: d.rules ?? {},
    deprecations: (d.deprecations ?? []).map((e) => ({ ...e, versions: e.versions ?? [], path: e.path ?? '' })),
    ...(d.serviceEntryVisibility ? { serviceEntryVisibility: d.serviceEntryVisibility } : {}),
  };
}
