import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../../src/cluster-audit/command.js';
import { RULE_IDS } from '../../../src/rules.js';

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runAudit(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'meshguard-audit-cmd-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('exit codes', () => {
  it.each([
    ['a clean cluster', 0, ['--cluster-state', 'examples/corpus']],
    ['errors', 1, ['--cluster-state', 'examples/bad']],
    ['errors, --fail-on never', 0, ['--cluster-state', 'examples/bad', '--fail-on', 'never']],
    ['only warnings', 0, ['--cluster-state', 'examples/bad/namespace-labels.yaml', '--namespace', 'mixed']],
    ['only warnings, --fail-on warning', 1, ['--cluster-state', 'examples/bad/namespace-labels.yaml', '--namespace', 'mixed', '--fail-on', 'warning']],
    ['no cluster given', 2, []],
    ['an unknown format', 2, ['--cluster-state', 'examples/corpus', '--format', 'html']],
    ['an unknown --fail-on', 2, ['--cluster-state', 'examples/corpus', '--fail-on', 'info']],
    ['both sources', 2, ['--cluster-state', 'examples/corpus', '--kubeconfig', 'x']],
    ['a missing kubeconfig', 2, ['--kubeconfig', join(dir, 'nope')]],
    ['a missing directory', 2, ['--cluster-state', join(dir, 'nope')]],
    ['bad YAML', 2, ['--cluster-state', file('bad.yaml', 'kind: [\n')]],
    ['an Istio version meshguard does not know', 2, ['--cluster-state', 'examples/corpus', '--istio-version', '1.40']],
    ['a known Istio version', 0, ['--cluster-state', 'examples/corpus', '--istio-version', '1.26']],
    ['a bad policy file', 2, ['--cluster-state', 'examples/corpus', '--policy', file('p.yaml', 'clusterDefaultMode: sidecarless\n')]],
  ])('%s: exit %i', async (_, code, argv) => {
    expect((await run(argv)).code).toBe(code);
  });
});

describe('output', () => {
  it('text: grouped by namespace, cluster-scoped first, with file and line in file mode; then the summary', async () => {
    const { stdout } = await run(['--cluster-state', 'examples/bad/namespace-labels.yaml', '--cluster-state', 'examples/bad/waypoints.yaml']);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('cluster-scoped objects:');
    expect(lines).toContain('namespace shop:');
    expect(stdout).toContain('  error: Service cart: [waypoint-missing] istio.io/use-waypoint="waypiont" names no existing Gateway');
    expect(stdout).toContain('(at metadata.labels["istio.io/use-waypoint"]) (examples/bad/waypoints.yaml:97)');
    const json = JSON.parse((await run(['--cluster-state', 'examples/bad/namespace-labels.yaml', '--cluster-state', 'examples/bad/waypoints.yaml', '--format', 'json'])).stdout);
    const objects = Object.values(json.summary.objects as Record<string, number>).reduce((a, b) => a + b, 0);
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    expect(lines.at(-2)).toBe(
      `${objects} objects: ${count(json.summary.errors, 'error')}, ${count(json.summary.warnings, 'warning')}; pods running: 1 ambient, 0 sidecar, 0 none; decided now: 1 ambient, 0 sidecar, 0 none`,
    );
  });

  it('json: the documented schema', async () => {
    const { stdout } = await run(['--cluster-state', 'examples/bad/waypoints.yaml', '--format', 'json']);
    const report = JSON.parse(stdout);
    expect(Object.keys(report).sort()).toEqual(['complete', 'findings', 'namespaces', 'readErrors', 'source', 'summary']);
    expect(Object.keys(report.summary).sort()).toEqual(['errors', 'objects', 'pods', 'skipped', 'warnings']);
    for (const f of report.findings) {
      expect(Object.keys(f).sort()).toEqual(['apiVersion', 'file', 'kind', 'line', 'message', 'name', 'namespace', 'path', 'result', 'rule', 'severity']);
      expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
    }
    expect(report.source).toBe('files (examples/bad/waypoints.yaml)');
  });

  it('sarif: SARIF 2.1.0 with every rule declared and each result pointing at its rule, file and line', async () => {
    const { stdout } = await run(['--cluster-state', 'examples/bad', '--format', 'sarif']);
    const log = JSON.parse(stdout);
    expect(log.version).toBe('2.1.0');
    const [runLog] = log.runs;
    expect(runLog.tool.driver.name).toBe('meshguard');
    expect(runLog.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(RULE_IDS);
    expect(runLog.invocations).toEqual([{ executionSuccessful: true, toolExecutionNotifications: [] }]);
    expect(runLog.results.length).toBeGreaterThan(15);
    for (const r of runLog.results) {
      expect(runLog.tool.driver.rules[r.ruleIndex].id).toBe(r.ruleId);
      expect(['error', 'warning']).toContain(r.level);
      expect(r.message.text.startsWith(`[${r.ruleId}] `)).toBe(true);
      expect(r.locations[0].physicalLocation.artifactLocation.uri).toMatch(/^examples\/bad\/[a-z-]+\.yaml$/);
      expect(r.locations[0].physicalLocation.region.startLine).toBeGreaterThan(0);
    }
  });
});
