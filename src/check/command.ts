import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ManifestError, parseManifests, readManifests, type ManifestDoc } from '../cluster/from-files.js';
import { loadPolicyFile, PolicyError, withIstioVersion } from '../policy/load.js';
import { FORMATS, formatReport, type Format } from './format.js';
import { checkManifests } from './run.js';

const CHECK_USAGE = `Usage: meshguard check [--policy FILE] [--istio-version 1.N] [--format text|json|sarif] PATH...

Checks Kubernetes manifests with the rules the meshguard webhooks apply at admission time.
PATH is a file or a directory (read recursively for .yaml, .yml and .json); "-" reads stdin,
e.g. helm template . | meshguard check -

Options:
  --policy FILE    policy file (default: the policy shipped with meshguard)
  --istio-version V  judge for this Istio version (1.22 to 1.31), instead of the
                   policy's istioVersion (default 1.31)
  --format FORMAT  text (default), json, or sarif (SARIF 2.1.0, for code-scanning tools)
  -h, --help       show this help

Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error or unreadable input.
`;

export interface CheckIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  readStdin(): string;
}

const processIO: CheckIO = { stdout: process.stdout, stderr: process.stderr, readStdin: () => readFileSync(0, 'utf8') };

/** `meshguard check ...`: returns the exit status. */
export function runCheck(argv: string[], io: CheckIO = processIO): number {
  const usageError = (message: string) => {
    io.stderr.write(`meshguard check: ${message}\n\n${CHECK_USAGE}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        policy: { type: 'string' },
        'istio-version': { type: 'string' },
        format: { type: 'string', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(CHECK_USAGE);
    return 0;
  }
  const format = values.format as Format;
  if (!FORMATS.includes(format)) return usageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
  if (!positionals.length) return usageError('no PATH given');

  try {
    const policy = withIstioVersion(loadPolicyFile(values.policy), values['istio-version']);
    const report = checkManifests(readInputs(positionals, io), policy);
    io.stdout.write(formatReport(report, format));
    return report.summary.errors ? 1 : 0;
  } catch (err) {
    if (!(err instanceof ManifestError || err instanceof PolicyError)) throw err;
    io.stderr.write(`meshguard check: ${err.message}\n`);
    return 2;
  }
}

function readInputs(paths: string[], io: CheckIO): ManifestDoc[] {
  return paths.flatMap((path) => {
    if (path !== '-') return readManifests([path]);
    let text: string;
    try {
      text = io.readStdin();
    } catch (err) {
      throw new ManifestError('<stdin>', 0, `cannot read: ${(err as Error).message}`);
    }
    return parseManifests(text, '<stdin>');
  });
}
