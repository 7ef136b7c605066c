import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCheck } from '../../../src/check/command.js';

/** Runs `meshguard check` with captured output. */
function run(argv: string[], stdin = '') {
  let stdout = '';
  let stderr = '';
  const code = runCheck(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    readStdin: () => stdin,
  });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'meshguard-check-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('exit codes', () => {
  it.each([
    ['the corpus', 0, ['examples/corpus']],
    ['the bad examples', 1, ['examples/bad']],
    ['only warnings', 0, ['examples/bad/namespace-labels.yaml', '--policy', file('warn.yaml', 'clusterDefaultMode: ambient\nrules: {dataplane-mode-invalid: warning}\n')]],
    ['--help', 0, ['--help']],
    ['no path', 2, []],
    ['an unknown option', 2, ['--fix', 'examples/corpus']],
    ['an unknown format', 2, ['--format', 'html', 'examples/corpus']],
    ['a missing file', 2, [join(dir, 'nope.yaml')]],
    ['a bad policy file', 2, ['--policy', file('bad-policy.yaml', 'clusterDefaultMode: sidecarless\n'), 'examples/corpus']],
    ['an Istio version meshguard does not know', 2, ['--istio-version', '1.40', 'examples/corpus']],
    ['a known Istio version', 0, ['--istio-version', '1.26', 'examples/corpus']],
  ])('%s: exit %i', (_, code, argv) => {
    expect((run(argv)).code).toBe(code);
  });
});

describe('--istio-version', () => {
  const trustDomains = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: shop}
spec:
  selector: {matchLabels: {app: a}}
  rules: [{from: [{source: {namespaces: [web], trustDomains: [td]}}]}]
`;
  it('judges for the given version instead of the policy file\'s', () => {
    const path = file('trust-domains.yaml', trustDomains);
    expect((run([path])).stdout).toContain('[authz-ztunnel-unsupported-field]');
    const older = run(['--istio-version', '1.30', path]);
    expect(older.code).toBe(0);
    expect(older.stdout).not.toContain('authz-ztunnel-unsupported-field');
  });

  it('names the versions it knows when given another', () => {
    const { stderr } = run(['--istio-version', '1.40', 'examples/corpus']);
    expect(stderr).toContain('meshguard check: --istio-version: "1.40" is not an Istio version meshguard knows; use one of 1.22, 1.23, 1.24, 1.25, 1.26, 1.27, 1.28, 1.29, 1.30, 1.31');
  });
});

describe('unreadable input names the file and line', () => {
  it.each([
    ['broken YAML', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a: b\nspec: {}\n', 4],
    ['a scalar document', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\njust text\n', 5],
    ['unclosed JSON', '{"apiVersion": "v1",\n "kind": "Pod",\n "metadata": {"name": "a"}\n', 4],
  ])('%s', (name, text, line) => {
    const path = file(`${name.replaceAll(' ', '-')}.${name.includes('JSON') ? 'json' : 'yaml'}`, text);
    const { code, stdout, stderr } = run([path]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${path}:${line}:`);
  });
});

describe('output', () => {
  it('text: file:line, severity, object, message and path, then a summary', () => {
    const { stdout } = run(['examples/bad/waypoints.yaml']);
    expect(stdout).toContain(
      'examples/bad/waypoints.yaml:97: error: Service shop/cart: [waypoint-missing] istio.io/use-waypoint="waypiont" names no existing Gateway',
    );
    expect(stdout).toContain('(at metadata.labels["istio.io/use-waypoint"])');
    expect(stdout).toContain('examples/bad/waypoints.yaml:137: mode: Pod team-a/report-builder: ambient (rule namespace-default)');
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('12 objects: 9 errors, 0 warnings');
  });

  it('json: the documented schema', () => {
    const { code, stdout } = run(['--format', 'json', 'examples/bad/pod-mode.yaml']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(Object.keys(report).sort()).toEqual(['findings', 'modes', 'summary']);
    expect(Object.keys(report.summary).sort()).toEqual(['documents', 'errors', 'ignored', 'skipped', 'warnings']);
    for (const f of report.findings) {
      expect(Object.keys(f).sort()).toEqual(['document', 'file', 'kind', 'line', 'message', 'name', 'namespace', 'path', 'rule', 'severity']);
      expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
    }
    for (const m of report.modes) expect(Object.keys(m).sort()).toEqual(['document', 'file', 'kind', 'line', 'mode', 'name', 'namespace', 'path', 'rule']);
    expect(report.findings[0]).toEqual({
      file: 'examples/bad/pod-mode.yaml',
      document: 1,
      line: 28,
      kind: 'Deployment',
      namespace: 'payments',
      name: 'ledger',
      rule: 'dataplane-mode-invalid',
      severity: 'error',
      path: 'spec.template.metadata.labels["istio.io/dataplane-mode"]',
      message: expect.stringMatching(/^\[dataplane-mode-invalid\] /),
    });
    expect(report.summary).toEqual({ documents: 6, errors: 4, warnings: 1, skipped: 0, ignored: 0 });
  });

  it('reads "-" from stdin', () => {
    const { code, stdout } = run(['-'], 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: {istio.io/dataplane-mode: sidecar}\n');
    expect(code).toBe(1);
    expect(stdout).toContain('<stdin>:5: error: Namespace x: [dataplane-mode-invalid]');
  });

  it('--help prints the usage on stdout', () => {
    const { stdout, stderr } = run(['-h']);
    expect(stdout).toMatch(/^Usage: meshguard check \[--policy FILE\] \[--istio-version 1\.N\] \[--format text\|json\|sarif\] PATH\.\.\./);
    expect(stderr).toBe('');
  });
});

describe('sarif', () => {
  it('check --format sarif: one result per finding, at its file and line', () => {
    const { code, stdout } = run(['--format', 'sarif', 'examples/bad/waypoints.yaml']);
    expect(code).toBe(1);
    const { version, runs } = JSON.parse(stdout);
    expect(version).toBe('2.1.0');
    expect(runs[0].results).toContainEqual({
      ruleId: 'waypoint-missing',
      ruleIndex: expect.any(Number),
      level: 'error',
      message: { text: expect.stringMatching(/^\[waypoint-missing\] istio.io\/use-waypoint="waypiont"/) },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri: 'examples/bad/waypoints.yaml' }, region: { startLine: 97 } },
          logicalLocations: [{ fullyQualifiedName: 'Service shop/cart', kind: 'resource' }],
        },
      ],
    });
    expect(runs[0].results).toHaveLength(9);
  });
});
