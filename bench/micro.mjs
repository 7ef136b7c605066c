// The pure decision core in a loop: decidePodMode + podModePatch on realistic pods, no I/O.
import { readFileSync } from 'node:fs';
import { decidePodMode } from '../dist/mutate/pod-mode.js';
import { podModePatch } from '../dist/mutate/patch.js';
import { namespaceConfig } from '../dist/policy/namespace-config.js';
import { loadPolicyFile } from '../dist/policy/load.js';

export function microDecidePatch(seconds) {
  const policy = loadPolicyFile();
  const base = JSON.parse(readFileSync('examples/reviews/pod-create-shop.json', 'utf8')).request.object;
  const variants = [
    base,
    { ...base, metadata: { ...base.metadata, labels: { ...base.metadata.labels, 'sidecar.istio.io/inject': 'true' } } },
    { ...base, metadata: { ...base.metadata, ownerReferences: [{ kind: 'Job', name: 'j' }] } },
    { ...base, spec: { ...base.spec, hostNetwork: true } },
  ];
  const namespaces = [
    namespaceConfig({ metadata: { name: 'a', labels: { 'istio.io/dataplane-mode': 'ambient' } } }, policy),
    namespaceConfig({ metadata: { name: 's', labels: { 'istio-injection': 'enabled' } } }, policy),
  ];
  let n = 0;
  let ops = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) {
      const pod = variants[i & 3];
      const ns = namespaces[(i >> 2) & 1];
      const d = decidePodMode(pod, ns, policy);
      ops += podModePatch(pod, d.mode, d.rule).length;
      n++;
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  return { pods: n, seconds: Math.round(elapsed * 100) / 100, podsPerSecond: Math.round(n / elapsed), patchOps: ops };
}
