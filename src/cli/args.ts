// Helpers that read command-line values, shared by the commands (no command imports another for them).
import { ArgumentError } from '../errors.ts';

/** A decimal number: digits, an optional fraction and exponent. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** `name=value` pairs from --param. */
export function parseParams(pairs: readonly string[]): Record<string, number> {
  // No prototype: `--param __proto__=0.5` is a parameter, not Object's.
  const out = Object.create(null) as Record<string, number>;
  for (const p of pairs) {
    if (/^[^=]*\./.test(p)) throw new ArgumentError(`--param ${p}: parameter names cannot contain '.' (set a term's argument inside the spec, e.g. gaussian_kl(sigma=2))`);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(p);
    // Decimal numbers only, as the spec language writes them: Number() would read 0x10 as 16 and '' as 0.
    const v = m && DECIMAL.test(m[2]!) ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) throw new ArgumentError(`--param ${p}: expected NAME=NUMBER, e.g. --param w=0.7`);
    out[m[1]!] = v;
  }
  return out;
}
