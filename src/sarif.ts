// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html), the format
// code-scanning tools read, for `meshguard check` and `meshguard audit`.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Severity } from './policy/types.js';
import { RULE_IDS, RULES, type RuleId } from './rules.js';

export interface SarifInput {
  rule: RuleId;
  severity: Severity;
  message: string;
  /** A manifest file (relative paths stay relative, as code scanning expects) and 1-based line. */
  file?: string;
  line?: number;
  /** The Kubernetes object: `Kind namespace/name` or `Kind name`. */
  object: string;
}

export interface SarifOptions {
  /** false when the run could not look at everything (an audit that could not read some kinds). */
  complete?: boolean;
  /** Why it is incomplete, one line each. */
  notifications?: string[];
}

const SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

export function toSarif(results: SarifInput[], o: SarifOptions = {}): string {
  const index = new Map(RULE_IDS.map((id, i) => [id, i]));
  const log = {
    $schema: SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'meshguard',
            rules: RULE_IDS.map((id) => ({ id, defaultConfiguration: { level: RULES[id] } })),
          },
        },
        invocations: [
          {
            executionSuccessful: o.complete ?? true,
            toolExecutionNotifications: (o.notifications ?? []).map((text) => ({ level: 'error', message: { text } })),
          },
        ],
        results: results.map((r) => ({
          ruleId: r.rule,
          ruleIndex: index.get(r.rule),
          level: r.severity,
          message: { text: r.message },
          locations: [
            {
              ...(r.file === undefined
                ? {}
                : { physicalLocation: { artifactLocation: { uri: fileUri(r.file) }, region: { startLine: r.line ?? 1 } } }),
              logicalLocations: [{ fullyQualifiedName: r.object, kind: 'resource' }],
            },
          ],
        })),
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

/** A URI reference: relative paths stay relative (code scanning resolves them against the checkout). */
function fileUri(file: string): string {
  return isAbsolute(file) ? pathToFileURL(file).href : encodeURI(file.split('\\').join('/'));
}
