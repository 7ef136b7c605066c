import { clientText } from './client-text.js';
import type { Policy, Severity } from './policy/types.js';
import { inRange } from './istio-version.js';
import { RULES, RULE_VERSIONS, type RuleId } from './rules.js';

/** One thing a rule found wrong with an object. `message` starts with `[rule]`. */
export interface Finding {
  rule: RuleId;
  severity: Severity;
  /** Field path in the object, e.g. `spec.rules[0].to[0].operation.methods`. */
  path: string;
  message: string;
}

/**
 * Findings one response, audit line and metrics update carry for one object (admission/outcome.ts
 * keeps the first ones and counts the rest); rules that can match thousands of times in one object
 * build this many and count the others, so a hostile object costs no more than a few findings.
 */
export const FINDINGS_MAX = 20;

const PATH_MAX = 1024;
const MESSAGE_MAX = 4096;

/**
 * Builds a finding with the severity the policy gives the rule (or the rule's default);
 * undefined when the policy turns the rule off or the rule does not hold for the policy's
 * istioVersion (RULE_VERSIONS). `severity` is for data-driven rules such as
 * deprecation catalog entries that carry their own; it wins over the rule-wide setting.
 */
export function finding(policy: Policy, rule: RuleId, path: string, text: string, severity?: Severity): Finding | undefined {
  const setting = policy.rules[rule];
  if (setting === 'off' || !inRange(policy.istioVersion, RULE_VERSIONS[rule])) return undefined;
  severity ??= setting ?? RULES[rule];
  // Client values in a message are bounded where they are quoted; these caps are the backstop that
  // keeps any one finding's path and message (and so the log line and kubectl's message) bounded.
  return { rule, severity, path: clientText(path, PATH_MAX), message: `[${rule}] ${clientText(text, MESSAGE_MAX)}` };
}
