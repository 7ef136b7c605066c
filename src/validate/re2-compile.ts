import RE2 from 're2';

/**
 * Compiles a pattern with the native RE2 binding (never JavaScript's RegExp: different syntax, and
 * backtracking a hostile pattern can hang); the error RE2 gives, or undefined when it compiles.
 */
export function re2Error(pattern: string): string | undefined {
  try {
    new RE2(pattern, 'u');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
