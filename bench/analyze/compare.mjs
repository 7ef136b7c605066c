// A standing comparison of `meshguard check` with `istioctl analyze --use-kube=false` (issue 9):
// both run over each manifest of examples/ and of Istio's own samples/ (from the Go module that
// istioctl is built from, bench/analyze/build-istioctl.sh), one file at a time, as a user checks
// one manifest; the example sets meant to be applied together (SETS) are one unit each. Helm
// templates (text with `{{`) are not manifests and are skipped, and listed. A finding of one tool and a message of the other agree when they name the same
// object and expectations.yaml lists the analyze code as equivalent to the meshguard rule. Every
// other finding is a difference, and each must be explained by an entry of expectations.yaml:
// the script exits 1 on an unexplained difference. Not part of npm test (it builds istioctl).
//
//   npm run bench:analyze [-- --istioctl PATH --istio-dir DIR]
//
// Writes bench/results/analyze-comparison-latest.{json,md} (git-ignored).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, matchesGlob, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const OUT = join(ROOT, 'bench/results/analyze-comparison-latest');

// Offline, analyze reads no Service, Namespace, Node, Pod or Secret from files
// (pkg/config/analysis/legacy/util/kuberesource/resources.go: IsDefaultExcluded, applied in
// pkg/config/analysis/local/istiod_analyze.go: addReaderKubeSourceInternal).
export const OFFLINE_SKIPPED = ['Namespace', 'Service', 'Pod', 'Node', 'Secret'];
const NOTE =
  `Offline (--use-kube=false), istioctl analyze skips ${OFFLINE_SKIPPED.join(', ')} objects read from files ` +
  '(kuberesource.IsDefaultExcluded): it checks no Namespace or Service labels and no Pods, so findings on those kinds are meshguard-only by construction.';

const run = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, ...opts }, (error, stdout, stderr) => {
      // Both tools exit non-zero when they find something: meshguard check 1, istioctl analyze 79.
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });

async function binaries(values) {
  if (values.istioctl && values['istio-dir']) return { istioctl: values.istioctl, istioDir: values['istio-dir'] };
  const { code, stdout, stderr } = await run('bash', [join(HERE, 'build-istioctl.sh')], { maxBuffer: 256 << 20 });
  if (code !== 0) throw new Error(`build-istioctl.sh failed (${code}): ${stderr.slice(-2000)}`);
  const vars = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  return { istioctl: vars.ISTIOCTL, istioDir: vars.ISTIO_MODULE_DIR };
}

function yamlFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Example directories whose files describe one cluster together (each is read whole as a --cluster-state). */
const SETS = ['examples/corpus', 'examples/cluster'];

/** The units compared, named as the expectation file names them: a set, or one YAML file. */
function units(istioDir) {
  const inSet = (name) => SETS.some((d) => name.startsWith(`${d}/`));
  const ours = yamlFiles(join(ROOT, 'examples')).map((path) => ({ paths: [path], name: relative(ROOT, path) }));
  const sets = SETS.map((d) => ({ paths: ours.filter((u) => u.name.startsWith(`${d}/`)).flatMap((u) => u.paths), name: `${d}/` }));
  const theirs = yamlFiles(join(istioDir, 'samples')).map((path) => ({ paths: [path], name: relative(istioDir, path) }));
  return [...sets, ...ours.filter((u) => !inSet(u.name)), ...theirs];
}

const isHelmTemplate = (paths) => paths.some((p) => readFileSync(p, 'utf8').includes('{{'));

const objectKey = (kind, namespace, name) => `${kind} ${namespace ? `${namespace}/` : ''}${name}`;

async function meshguard(paths) {
  const { code, stdout, stderr } = await run(process.execPath, [join(ROOT, 'dist/cli.js'), 'check', '--format', 'json', ...paths], { cwd: ROOT });
  if (code !== 0 && code !== 1) return { error: `meshguard check exited ${code}: ${stderr.trim().split('\n')[0]}`, findings: [] };
  const report = JSON.parse(stdout);
  return {
    findings: report.findings.map((f) => ({ object: objectKey(f.kind, f.namespace, f.name), id: f.rule, level: f.severity, message: f.message })),
  };
}

async function analyze(istioctl, paths) {
  const { code, stdout, stderr } = await run(istioctl, ['analyze', '--use-kube=false', '--all-namespaces', '--output', 'json', ...paths]);
  if (code !== 0 && code !== 79) return { error: `istioctl analyze exited ${code}: ${stderr.trim().split('\n').at(-1)}`, findings: [] };
  // Log lines (a document it cannot read is skipped with a "warn" line, and no message) come
  // before the JSON array; they are kept to explain differences.
  const start = stdout.search(/^\[/m);
  const log = (start < 0 ? stdout : stdout.slice(0, start)).concat(stderr).split('\n').filter((l) => /\twarn\t|\terror\t/.test(l));
  const messages = start < 0 ? [] : JSON.parse(stdout.slice(start));
  return { log, findings: messages.map((m) => ({ object: analyzeObject(m.origin ?? ''), id: m.code, level: m.level, message: m.message })) };
}

const CLUSTER_SCOPED = new Set(['Namespace', 'GatewayClass', 'Node', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);

/**
 * Origin is "<Kind> [<namespace>/]<name>" (legacy/source/kube/origin.go: FriendlyName). With
 * --all-namespaces a file's object without metadata.namespace has none; meshguard check puts it in
 * `default`, as kubectl apply would, so both name it that way here.
 */
export function analyzeObject(origin) {
  const [kind, ref = ''] = origin.split(' ');
  return ref.includes('/') || CLUSTER_SCOPED.has(kind) ? origin : `${kind} default/${ref}`;
}

/** Pairs equivalent findings on the same object; the rest are differences. */
export function compareUnit(mine, theirs, equivalent) {
  const left = [...theirs];
  const agree = [];
  const meshguardOnly = [];
  for (const f of mine) {
    const i = left.findIndex((a) => a.object === f.object && (equivalent.get(a.id) ?? []).includes(f.id));
    if (i >= 0) agree.push({ object: f.object, meshguard: f.id, analyze: left.splice(i, 1)[0].id });
    else meshguardOnly.push(f);
  }
  return { agree, meshguardOnly, analyzeOnly: left };
}

/** The expectation entry that explains a difference, if any. */
export function explain(expectations, tool, unit, f) {
  return expectations.find(
    (e) =>
      e.tool === tool &&
      e.ids.includes(f.id) &&
      e.files.some((g) => matchesGlob(unit, g)) &&
      (e.object === undefined || e.object === f.object) &&
      (e.kinds === undefined || e.kinds.includes(f.object.split(' ')[0])),
  );
}

export function loadExpectations(text) {
  const doc = parseYaml(text);
  const equivalent = new Map(doc.equivalent.map((e) => [e.code, e.rules]));
  for (const e of [...doc.equivalent, ...doc.differences])
    if (typeof e.why !== 'string' || e.why.trim().length < 20) throw new Error(`expectation without a why: ${JSON.stringify(e)}`);
  const differences = doc.differences.map((e) => ({ ...e, ids: [e.tool === 'analyze' ? e.code : e.rule].flat(), files: [e.files].flat() }));
  return { equivalent, differences };
}

async function pool(items, size, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

function markdown(result) {
  const lines = [
    `# meshguard check vs istioctl analyze --use-kube=false`,
    '',
    `${result.date}, Istio module ${result.istio.module} (VERSION ${result.istio.version}; a pseudo-version, not an approved release), load average ${result.loadavg.join(' ')}, \`${result.command}\`.`,
    '',
    `> ${NOTE}`,
    '',
    `| | count |`,
    `|---|---|`,
    ...Object.entries(result.counts).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    `Skipped (${result.skipped.why}): ${result.skipped.units.join(', ') || 'none'}.`,
    '',
    '| unit | in agreement | meshguard only | analyze only | unexplained |',
    '|---|---|---|---|---|',
    ...result.units
      .filter((u) => u.agree.length || u.meshguardOnly.length || u.analyzeOnly.length || u.errors.length)
      .map(
        (u) =>
          `| ${u.unit} | ${u.agree.map((a) => `${a.object}: ${a.meshguard} = ${a.analyze}`).join('<br>')} | ${u.meshguardOnly.map((f) => `${f.object}: ${f.id}`).join('<br>')} | ${u.analyzeOnly.map((f) => `${f.object}: ${f.id}`).join('<br>')} | ${[...u.unexplained.map((f) => `${f.tool} ${f.object}: ${f.id}`), ...u.errors].join('<br>')} |`,
      ),
    '',
    '| difference (tool: id) | count | why (expectations.yaml) |',
    '|---|---|---|',
    ...result.byReason.map((r) => `| ${r.tool}: ${r.id} | ${r.count} | ${r.why.replace(/\s+/g, ' ').trim()} |`),
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({ options: { istioctl: { type: 'string' }, 'istio-dir': { type: 'string' } } });
  const { equivalent, differences } = loadExpectations(readFileSync(join(HERE, 'expectations.yaml'), 'utf8'));
  const { istioctl, istioDir } = await binaries(values);
  const all = units(istioDir);
  const skipped = all.filter((u) => isHelmTemplate(u.paths)).map((u) => u.name);
  const reasons = new Map();
  const results = await pool(all.filter((u) => !skipped.includes(u.name)), Math.max(1, Math.min(2, cpus().length)), async ({ paths, name }) => {
    const [mine, theirs] = await Promise.all([meshguard(paths), analyze(istioctl, paths)]);
    const { agree, meshguardOnly, analyzeOnly } = compareUnit(mine.findings, theirs.findings, equivalent);
    const unexplained = [];
    for (const [tool, list] of [['meshguard', meshguardOnly], ['analyze', analyzeOnly]])
      for (const f of list) {
        const e = explain(differences, tool, name, f);
        if (e) reasons.set(e, (reasons.get(e) ?? 0) + 1);
        else unexplained.push({ tool, ...f });
      }
    const errors = [mine.error, theirs.error].filter(Boolean);
    return { unit: name, agree, meshguardOnly, analyzeOnly, unexplained, errors, analyzeLog: theirs.log.map((l) => l.split('\t').slice(1).join(' ').replaceAll(`${istioDir}/`, '').replaceAll(ROOT, '')) };
  });
  const sum = (fn) => results.reduce((n, u) => n + fn(u), 0);
  const module = istioDir.match(/@(v[^/]+)$/)?.[1] ?? istioDir;
  const result = {
    date: new Date().toISOString(),
    command: 'npm run bench:analyze',
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    istio: { module, version: readFileSync(join(istioDir, 'VERSION'), 'utf8').trim() },
    note: NOTE,
    skipped: { why: 'Helm templates (text with {{), not manifests', units: skipped },
    counts: {
      'units compared (files, and the example sets)': results.length,
      'Helm templates skipped': skipped.length,
      'units with findings of either tool': results.filter((u) => u.agree.length || u.meshguardOnly.length || u.analyzeOnly.length).length,
      'findings in agreement': sum((u) => u.agree.length),
      'meshguard only': sum((u) => u.meshguardOnly.length),
      'analyze only': sum((u) => u.analyzeOnly.length),
      'differences explained': sum((u) => u.meshguardOnly.length + u.analyzeOnly.length - u.unexplained.length),
      unexplained: sum((u) => u.unexplained.length),
      'tool errors': sum((u) => u.errors.length),
    },
    byReason: [...reasons].map(([e, count]) => ({ tool: e.tool, id: e.ids.join(', '), files: e.files, object: e.object, kinds: e.kinds, count, why: e.why })),
    unusedExpectations: differences.filter((e) => !reasons.has(e)).map((e) => ({ tool: e.tool, id: e.ids.join(', '), files: e.files, object: e.object, kinds: e.kinds })),
    units: results,
  };
  writeFileSync(`${OUT}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${OUT}.md`, markdown(result));
  console.log(NOTE);
  console.table(result.counts);
  for (const u of results) for (const f of u.unexplained) console.log(`UNEXPLAINED ${u.unit}: ${f.tool} ${f.object}: ${f.id}: ${f.message}`);
  for (const u of results) for (const e of u.errors) console.log(`ERROR ${u.unit}: ${e}`);
  for (const e of result.unusedExpectations) console.log(`unused expectation: ${e.tool} ${e.id} ${e.files.join(',')} ${e.object ?? ''}`);
  console.log(`wrote ${relative(ROOT, OUT)}.{json,md}`);
  if (result.counts.unexplained || result.counts['tool errors']) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
