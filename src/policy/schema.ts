import { ISTIO_VERSIONS } from '../istio-version.js';
import { RULE_IDS } from '../rules.js';
import { ENFORCEMENTS, MODES, SERVICE_ENTRY_VISIBILITIES } from './types.js';

const severity = { enum: ['error', 'warning'] };

/** A deprecation catalog path (see DeprecationEntry.path); empty means the whole apiVersion. */
const FIELD_SEGMENT = '[A-Za-z_][A-Za-z0-9_]*(?:\\[\\]|\\{\\}|\\["[^"\\\\]+"\\])*';
const FIELD_PATH = `^(?:${FIELD_SEGMENT}(?:\\.${FIELD_SEGMENT})*)?$`;

const visibility = { enum: [...SERVICE_ENTRY_VISIBILITIES] };

/**
 * A Kubernetes LabelSelector as istiod compiles it (pkg/config/mesh/labelselector
 * LabelSelectorAsSelector): a selector istiod would fail to compile is refused here, since istiod
 * then keeps its last good serviceEntryVisibility and meshguard could not know which that is.
 */
const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', minLength: 1 },
          operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
        allOf: [
          { if: { properties: { operator: { enum: ['In', 'NotIn'] } } }, then: { required: ['values'], properties: { values: { type: 'array', minItems: 1 } } } },
          { if: { properties: { operator: { enum: ['Exists', 'DoesNotExist'] } } }, then: { properties: { values: { type: 'array', maxItems: 0 } } } },
        ],
      },
    },
  },
};

/** JSON Schema of a policy file (draft-07, checked with ajv). Unknown keys are errors: typos must not pass silently. */
export const policySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['clusterDefaultMode'],
  properties: {
    istioVersion: { enum: [...ISTIO_VERSIONS] },
    clusterDefaultMode: { enum: [...MODES] },
    clusterEnforcement: { enum: [...ENFORCEMENTS] },
    rootNamespace: { type: 'string', minLength: 1 },
    sidecarOnlyAnnotations: { type: 'array', items: { type: 'string', minLength: 1 } },
    noSidecarOwnerKinds: { type: 'array', items: { type: 'string', minLength: 1 } },
    rules: {
      type: 'object',
      propertyNames: { enum: RULE_IDS },
      additionalProperties: { enum: ['error', 'warning', 'off'] },
    },
    serviceEntryVisibility: {
      type: 'object',
      additionalProperties: false,
      properties: {
        defaultVisibility: visibility,
        applyToSidecars: { type: 'boolean' },
        policies: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              visibility,
              matchingRules: {
                type: 'array',
                items: { type: 'object', additionalProperties: false, properties: { namespaceSelector: labelSelector } },
              },
            },
          },
        },
      },
    },
    deprecations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['rule', 'group', 'kinds', 'message', 'replacement', 'since'],
        properties: {
          rule: { enum: ['deprecated-field', 'removed-annotation', 'deprecated-api-version', 'removed-api-version'] },
          group: { type: 'string' },
          kinds: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          versions: { type: 'array', items: { type: 'string', minLength: 1 } },
          path: {
            oneOf: [
              { type: 'string', pattern: FIELD_PATH },
              { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, pattern: FIELD_PATH } },
            ],
          },
          equals: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
          with: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
          message: { type: 'string', minLength: 1 },
          replacement: { type: 'string' },
          since: { enum: [...ISTIO_VERSIONS] },
          until: { enum: [...ISTIO_VERSIONS] },
          severity,
        },
      },
    },
  },
} as const;
