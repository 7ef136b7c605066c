// The Istio minor versions meshguard knows, and version ranges as data: a rule or catalog entry that
// depends on the Istio version says from which version (`since`) and until which (`until`, both
// inclusive) it holds. The policy's `istioVersion` picks the version rules are judged for.

/** Every minor version meshguard has checked its facts against, oldest first. */
export const ISTIO_VERSIONS = ['1.22', '1.23', '1.24', '1.25', '1.26', '1.27', '1.28', '1.29', '1.30', '1.31'] as const;
export type IstioVersion = (typeof ISTIO_VERSIONS)[number];
export const LATEST_ISTIO_VERSION: IstioVersion = ISTIO_VERSIONS[ISTIO_VERSIONS.length - 1];

export interface VersionRange {
  /** First version the fact holds for (inclusive); absent: every known version before too. */
  since?: string;
  /** Last version the fact holds for (inclusive); absent: still true in the newest version. */
  until?: string;
}

export const isIstioVersion = (value: string): value is IstioVersion => (ISTIO_VERSIONS as readonly string[]).includes(value);

/** The minor number of `1.N` (NaN for anything else). */
export function minorOf(version: string): number {
  const m = /^1\.(\d{1,3})$/.exec(version);
  return m ? Number(m[1]) : Number.NaN;
}

export function inRange(version: string, range: VersionRange | undefined): boolean {
  if (!range) return true;
  const v = minorOf(version);
  if (range.since !== undefined && v < minorOf(range.since)) return false;
  if (range.until !== undefined && v > minorOf(range.until)) return false;
  return true;
}

/** `1.29+`, `1.22–1.30`, `up to 1.28`, or `all` for the README and messages. */
export function describeRange(range: VersionRange | undefined): string {
  if (!range || (range.since === undefined && range.until === undefined)) return 'all';
  if (range.until === undefined) return `${range.since}+`;
  if (range.since === undefined) return `up to ${range.until}`;
  return range.since === range.until ? range.since : `${range.since}–${range.until}`;
}
