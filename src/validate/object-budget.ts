import { finding, type Finding } from '../findings.js';
import type { Policy } from '../policy/types.js';

/**
 * The object budget: how many list entries and map keys (at any depth) one object may have before
 * meshguard refuses to walk it. Istio's CRDs bound only a few lists (AuthorizationPolicy `rules` and
 * `from` at 512, `targetRefs` at 16: manifests/charts/base/files/crd-all.gen.yaml) and leave `to`,
 * `when`, a VirtualService's `http` and `match` unbounded, so one object can hold hundreds of
 * thousands of entries that every rule would walk. 50,000 is far above a real object (a VirtualService
 * route counts about 10-30), though below what Istio's schema allows in theory (512 rules of 512
 * sources), and walking that many costs the rules about 25 ms here (bench/results/README.md).
 */
export const OBJECT_BUDGET = { entries: 50_000 } as const;

/** Counts entries until the budget is passed; iterative, so nesting depth cannot overflow the stack. */
function overBudget(object: unknown, limit: number): { largest: string; size: number } | undefined {
  type Frame = { value: object; key: string; parent?: Frame };
  const stack: Frame[] = [{ value: object as object, key: '' }];
  let count = 0;
  let largest: Frame | undefined;
  let largestSize = -1;
  while (stack.length) {
    const frame = stack.pop()!;
    const isArray = Array.isArray(frame.value);
    const keys = isArray ? undefined : Object.keys(frame.value);
    const size = isArray ? (frame.value as unknown[]).length : keys!.length;
    if (size > largestSize) [largest, largestSize] = [frame, size];
    count += size;
    if (count > limit) return { largest: pathOf(largest!), size: largestSize };
    for (let i = 0; i < size; i++) {
      const key = isArray ? i : keys![i];
      const child = (frame.value as Record<string | number, unknown>)[key];
      if (child !== null && typeof child === 'object') stack.push({ value: child, key: isArray ? `[${i}]` : `.${key}`, parent: frame });
    }
  }
  return undefined;

  function pathOf(frame: Frame): string {
    const parts: string[] = [];
    for (let f: Frame | undefined = frame; f; f = f.parent) parts.push(f.key);
    return parts.reverse().join('').replace(/^\./, '') || '(the object)';
  }
}

/**
 * The count's answer per object (null: within the budget). A validation worker asks before deciding
 * whether it can decide alone, then the rules ask again for the same object; within the budget the
 * count walks every entry each time (0.56 ms for a 1,500-route VirtualService). Objects are never
 * changed once decoded.
 */
const counted = new WeakMap<object, { largest: string; size: number } | null>();

/**
 * One finding for an object over the budget, found before any rule walks it (so a rule never does),
 * else undefined. Pods, Services and Namespaces are not counted: their rules read labels, annotations
 * and a few named fields, never a whole list, and Kubernetes itself bounds their shapes.
 */
export function objectBudgetFinding(object: unknown, policy: Policy): Finding | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  let over = counted.get(object);
  if (over === undefined) counted.set(object, (over = overBudget(object, OBJECT_BUDGET.entries) ?? null));
  if (!over) return undefined;
  return finding(policy, 'object-budget-exceeded', over.largest,
    `the object has more than ${OBJECT_BUDGET.entries} list entries and map keys in all (README "Object budget"), ` +
      `${over.largest} alone ${over.size}; meshguard did not check it. Split it into several objects.`);
}
