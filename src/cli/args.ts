// Helpers that read command-line values, shared by the commands (no command imports another for them).
import { ArgumentError } from '../errors.ts';
import { parseLossSpec } from '../losses/loss_spec.ts';
import { RESERVED_NAMES } from '../losses/spec.ts';

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
    if (RESERVED_NAMES.has(m[1]!)) throw new ArgumentError(`--param ${p}: '${m[1]}' cannot be a parameter name (the graphs have a tensor of that name)`);
    out[m[1]!] = v;
  }
  return out;
}

/**
 * A warning on stderr for each --param that none of `specs` reads: it changes
 * nothing, which is seldom what was meant (a misspelt name, or the wrong spec).
 */
export function warnUnusedParams(params: Readonly<Record<string, number>>, specs: readonly string[]): void {
  const read = new Set(specs.flatMap((s) => parseLossSpec(s).params));
  const where = specs.length === 1 ? `the loss spec '${specs[0]}'` : 'any of the --losses';
  const known = read.size ? `its parameters: ${[...read].join(', ')}` : 'it has none';
  for (const name of Object.keys(params)) {
    if (!read.has(name)) process.stderr.write(`lossgraph: warning: --param ${name} is not a parameter of ${where} (${known}); it changes nothing\n`);
  }
}
