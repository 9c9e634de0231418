// What lossgraph knows about a loss hyperparameter beyond its graph input:
// its valid range, the schedule and role that may drive it. The losses declare
// them, the manifest records them, and they are checked when a spec is parsed,
// when parameters are bound, and by the runtime whenever a value is fed; so
// this module, like errors.ts, stands outside the layers and imports nothing.

/** Valid values of a numeric argument; a bound is included unless marked exclusive. */
export interface Range {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

/** '> 0', 'in [0, 1]', '>= 0'. */
export function describeRange(r: Range): string {
  const lo = r.min === undefined ? undefined : `${r.minExclusive ? '>' : '>='} ${r.min}`;
  const hi = r.max === undefined ? undefined : `${r.maxExclusive ? '<' : '<='} ${r.max}`;
  if (lo && hi) return `in ${r.minExclusive ? '(' : '['}${r.min}, ${r.max}${r.maxExclusive ? ')' : ']'}`;
  return lo ?? hi ?? 'any number';
}

export function inRange(v: number, r: Range | undefined): boolean {
  if (!Number.isFinite(v)) return false;
  if (!r) return true;
  if (r.min !== undefined && (r.minExclusive ? !(v > r.min) : !(v >= r.min))) return false;
  if (r.max !== undefined && (r.maxExclusive ? !(v < r.max) : !(v <= r.max))) return false;
  return true;
}

/** A loss hyperparameter as the manifest records it. */
export interface HyperparameterInfo {
  /** The graph input's name, e.g. 'gaussian_kl.sigma' or a named parameter 'w'. */
  name: string;
  default: number;
  /** Valid values (from the arguments it feeds); the runtime refuses to feed others. */
  range?: Range;
  /** The per-epoch schedule that may drive it ('sigma': --sigma-decay), when every use of it is an argument of that schedule. */
  schedule?: 'sigma';
  /** 'temperature': a teacher's targets are softened by its value. */
  role?: 'temperature';
}

/** A schedulable loss argument no hyperparameter reaches alone (it is computed from parameters). */
export interface Unscheduled {
  schedule: 'sigma';
  /** e.g. "'sigma' of 'gaussian_kl' (sigma=2*s)". */
  where: string;
}
