import { clientText, quoted } from '../client-text.js';
import { finding, type Finding } from '../findings.js';
import type { Policy } from '../policy/types.js';
import { findPaths } from './deprecations.js';
import type { Validator } from './index.js';
import { checkRegex, REGEX_MAX_BYTES, type RegexProblem } from './regex.js';

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
  }
}

/** Regexes in a VirtualService, checked with RE2 as istiod and Envoy will. Any version; CREATE and UPDATE. */
export const validateVirtualService: Validator = (input, { policy }) => {
  if (input.group !== 'networking.istio.io' || input.kind !== 'VirtualService') return [];
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return [];
  const findings: Finding[] = [];
  for (const field of REGEX_FIELDS)
    for (const { path, value } of findPaths(input.object, field.path)) {
      if (typeof value !== 'string' || (field.presenceStar && value === '*')) continue;
      const problem = checkRegex(value);
      const f = problem && regexFinding(policy, path, value, problem);
      if (f) findings.push(f);
    }
  return findings;
};
