import { clientText, quoted } from '../client-text.js';
import { finding, type Finding } from '../findings.js';
import { isRecord } from '../kube.js';
import type { Policy } from '../policy/types.js';
import { findPaths } from './deprecations.js';
import type { ValidationInput, Validator } from './index.js';
import { compiledVerdict, planRegexes, REGEX_BUDGET, REGEX_MAX_BYTES, REGEX_MAX_PROGRAM_SIZE, type RegexPlan, type RegexProblem } from './regex.js';

/**
 * The VirtualService fields that hold a regex (StringMatch `regex`, and the rewrite's `match`).
 * Only in withoutHeaders is `regex: "*"` exempt from the regex check: istiod skips it there and
 * rejects it in headers like any other invalid regex (pkg/config/validation/virtualservice.go,
 * validateHTTPRouteMatchRequest, unchanged from 1.22 to 1.31).
 */
const REGEX_FIELDS: Array<{ path: string; presenceStar?: boolean }> = [
  { path: 'spec.http[].match[].uri.regex' },
  { path: 'spec.http[].match[].scheme.regex' },
  { path: 'spec.http[].match[].method.regex' },
  { path: 'spec.http[].match[].authority.regex' },
  { path: 'spec.http[].match[].headers{}.regex' },
  { path: 'spec.http[].match[].withoutHeaders{}.regex', presenceStar: true },
  { path: 'spec.http[].match[].queryParams{}.regex' },
  { path: 'spec.http[].corsPolicy.allowOrigins[].regex' },
  { path: 'spec.http[].rewrite.uriRegexRewrite.match' },
];

const SHOWN_CHARS = 80;

function regexFinding(policy: Policy, path: string, pattern: string, problem: RegexProblem): Finding | undefined {
  switch (problem.kind) {
    case 'empty':
      return finding(policy, 'regex-empty', path, `${path} is an empty regex, which istiod rejects; give a pattern, or match with exact or prefix instead.`);
    case 'too-long':
      return finding(policy, 'regex-too-long', path,
        `${path} is ${problem.bytes} bytes long, and istiod accepts at most ${REGEX_MAX_BYTES}; shorten it, for example by splitting the route or using prefix matches.`);
    case 'invalid':
      return finding(policy, 'regex-invalid', path,
        `${path} ${quoted(pattern, SHOWN_CHARS)} is not valid RE2 (RE2 says "${clientText(problem.reason, 2 * SHOWN_CHARS)}"). Envoy matches RE2 against the whole value and has no lookaround or backreferences; rewrite it in RE2 syntax (https://github.com/google/re2/wiki/Syntax).`);
    case 'too-costly':
      return finding(policy, 'regex-budget-exceeded', path,
        `${path} ${quoted(pattern, SHOWN_CHARS)} compiles to about ${problem.estimate} RE2 instructions (estimated), and Envoy in Istio refuses a regex over ${REGEX_MAX_PROGRAM_SIZE} (re2.max_program_size.error_level), rejecting the route; ` +
        'repeat a smaller class fewer times (for example [a-z0-9]+ instead of \\pL{100}), or match with prefix or exact instead.');
    case 'not-compiled':
      return finding(policy, 'regex-budget-exceeded', path,
        `${path} ${quoted(pattern, SHOWN_CHARS)} could not be checked: ${problem.reason}; use fewer or simpler regexes in this object (README "Regex budget"), or split it.`);
  }
}

/**
 * The regexes in a VirtualService with their field paths, the one list the validator and the server's
 * compile step share; at most one over the budget, so a huge object is not walked to its end.
 */
export function regexesOf(object: unknown): Array<{ path: string; pattern: string }> {
  const limit = REGEX_BUDGET.patterns + 1;
  const out: Array<{ path: string; pattern: string }> = [];
  for (const field of REGEX_FIELDS)
    for (const { path, value } of findPaths(object, field.path, limit - out.length))
      if (typeof value === 'string' && !(field.presenceStar && value === '*')) out.push({ path, pattern: value });
  return out;
}

/** Whether the server should compile this object's regexes: the same condition the validator starts with. */
export const checksRegexes = (input: Pick<ValidationInput, 'group' | 'kind' | 'operation'>) =>
  input.group === 'networking.istio.io' && input.kind === 'VirtualService' && (input.operation === 'CREATE' || input.operation === 'UPDATE');

/**
 * An object's regexes, walked once per object, and their plan, worked out once when first asked for:
 * the server counts them (to pick where to decide), its compile step (regexesToCompile) and then the
 * rule read the same request's object, and for 100 routes the walk and the prechecks take about
 * 0.3 ms. Objects are never changed once decoded, so both stay true.
 */
type Planned = { regexes: Array<{ path: string; pattern: string }>; plan?: RegexPlan };
const plans = new WeakMap<object, Planned>();
function regexesIn(object: unknown): Planned {
  const known = isRecord(object) ? plans.get(object) : undefined;
  if (known) return known;
  const walked: Planned = { regexes: regexesOf(object) };
  if (isRecord(object)) plans.set(object, walked);
  return walked;
}
function regexPlan(object: unknown) {
  const planned = regexesIn(object);
  planned.plan ??= planRegexes(planned.regexes.map((r) => r.pattern));
  return { regexes: planned.regexes, plan: planned.plan };
}

/** How many regexes an object holds (at most one over the budget): the walk only, not the plan. */
export const regexCount = (object: unknown) => regexesIn(object).regexes.length;

/**
 * The patterns the server compiles (off the event loop) before validating this object: undefined when
 * the validator compiles nothing (another kind, or over the budget, which it denies without compiling).
 */
export function regexesToCompile(input: Pick<ValidationInput, 'group' | 'kind' | 'operation' | 'object'>): string[] | undefined {
  if (!isRecord(input.object) || !checksRegexes(input)) return undefined;
  const { plan } = regexPlan(input.object);
  return plan.exceeded === undefined ? plan.compile : undefined;
}

/** Regexes in a VirtualService, checked with RE2 as istiod and Envoy will. Any version; CREATE and UPDATE. */
export const validateVirtualService: Validator = (input, { policy, regexVerdicts }) => {
  if (!checksRegexes(input)) return [];
  const { regexes, plan } = regexPlan(input.object);
  // Over the budget, nothing is compiled: one finding for the object.
  if (plan.exceeded !== undefined) {
    const f = finding(policy, 'regex-budget-exceeded', 'spec.http',
      `spec.http ${plan.exceeded} (at most ${REGEX_BUDGET.patterns} regexes, ${REGEX_BUDGET.programSize} RE2 instructions in all; README "Regex budget"); ` +
      'split the routes over several VirtualServices, or match with prefix or exact instead of regex.');
    return f ? [f] : [];
  }
  const findings: Finding[] = [];
  for (const { path, pattern } of regexes) {
    // Each distinct pattern was prechecked by the plan; only those that passed remain to RE2.
    const problem = plan.problems.get(pattern) ?? compiledVerdict(pattern, regexVerdicts);
    const f = problem && regexFinding(policy, path, pattern, problem);
    if (f) findings.push(f);
  }
  return findings;
};
