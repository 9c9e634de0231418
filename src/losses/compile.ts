// Turns a loss spec into graph nodes. Every float argument of a term ('hyper')
// becomes a scalar graph input named `term.arg` whose default is the
// argument's value (constant arithmetic such as `sigma=2*1` or `eps=1/10` is
// folded first); an argument given as one named parameter (`sigma=s`) reads
// that parameter's input. So a schedule or a sweep changes them by feeding,
// without rebuilding the graph. An argument computed from parameters
// (`sigma=2*s`) is computed in the graph: no schedule can reach it, and asking
// for one is an error.
//
// Values are checked where they enter: literals when the spec is parsed,
// bound parameters when the graph is built, fed values by the runtime against
// the ranges recorded here.
import { LossgraphError } from '../errors.ts';
import type { Value } from '../graph/graph.ts';
import { describeRange, inRange, type HyperparameterInfo, type Unscheduled } from '../hyperparameters.ts';
import { knownLosses, lossDefinition } from './registry.ts';
import { termsOf, type Expr } from './spec.ts';
import { checkWeight, fail, fixedArgs, numeric, parseLossSpec, resolveArgs, termWeights, type LossSpec } from './loss_spec.ts';
import type { ArgValue, LossContext, Predictions, PredictContext, Range, TermContext } from './types.ts';

export type { Unscheduled };

/** The narrower of two ranges (where a parameter feeds several arguments, it must fit them all). */
function intersect(a: Range | undefined, b: Range | undefined): Range | undefined {
  if (!a || !b) return a ?? b;
  const out: Range = { ...a };
  if (b.min !== undefined && (out.min === undefined || b.min > out.min || (b.min === out.min && b.minExclusive))) Object.assign(out, { min: b.min, minExclusive: b.minExclusive });
  if (b.max !== undefined && (out.max === undefined || b.max < out.max || (b.max === out.max && b.maxExclusive))) Object.assign(out, { max: b.max, maxExclusive: b.maxExclusive });
  return out;
}

/** A hyperparameter with the graph input it feeds. */
export interface Hyperparameter extends HyperparameterInfo {
  input: Value;
}

export interface CompiledLoss {
  loss: Value;
  hyperparameters: Hyperparameter[];
  unscheduled: Unscheduled[];
  /** Each term's own value (before its weight), labelled 'ce', 'gaussian_kl', 'gaussian_kl#2', ...: what a NaN guard reports. */
  terms: { label: string; value: Value }[];
}

export interface BuildLossOptions {
  /** Values of the spec's named parameters (w, alpha, ...): the defaults of their graph inputs. */
  params?: Readonly<Record<string, number>>;
  /** Bake hyperparameters and named parameters in as constants instead of graph inputs. */
  bake?: boolean;
}

/** Safe labels and the keep mask for the spec's ignore_index. */
function termContext(ctx: LossContext, ignoreIndex: number): TermContext {
  const { g } = ctx;
  const ignored = g.equal(ctx.labels, g.constant(ctx.labels.dtype, [], [ignoreIndex]));
  return {
    ...ctx,
    labels: g.where(ignored, g.constant(ctx.labels.dtype, [], [0]), ctx.labels),
    keep: g.where(ignored, g.scalar(0, ctx.logits.dtype), g.scalar(1, ctx.logits.dtype)),
    ignored,
    ignoreIndex,
  };
}

/**
 * Appends the loss of `spec` to `ctx.g` and returns it (a scalar) with the
 * hyperparameter inputs it created.
 */
export function buildLoss(spec: LossSpec | string, ctx: LossContext, opts: BuildLossOptions = {}): CompiledLoss {
  const s = typeof spec === 'string' ? parseLossSpec(spec) : spec;
  const { g } = ctx;
  const dt = ctx.logits.dtype;
  const hypers: Hyperparameter[] = [];
  const unscheduled: Unscheduled[] = [];
  const byName = new Map<string, Hyperparameter>();
  // How each named parameter is used: as a scheduled argument, or anything else (a weight, arithmetic).
  const uses = new Map<string, Set<string>>();
  const use = (name: string, how: string) => uses.set(name, (uses.get(name) ?? new Set()).add(how));
  const input = (name: string, dflt: number, range?: Range, schedule?: 'sigma', role?: 'temperature'): Value => {
    if (opts.bake) return g.scalar(dflt, dt);
    let h = byName.get(name);
    if (!h) {
      h = { name, default: dflt, input: g.input(name, dt, []) };
      byName.set(name, h);
      hypers.push(h);
    }
    h.range = intersect(h.range, range);
    if (schedule) h.schedule = schedule;
    if (role) h.role = role;
    return h.input;
  };
  const bound = (name: string, col: number): number => {
    // Own properties only: a parameter named 'constructor' or '__proto__' is the user's, never Object's.
    const value = opts.params && Object.hasOwn(opts.params, name) ? opts.params[name] : undefined;
    if (value === undefined) {
      fail(s.text, col, `parameter '${name}' has no value: bind it (e.g. --param ${name}=0.5) or use a known loss (${knownLosses().join(', ')})`);
    }
    if (!Number.isFinite(value)) fail(s.text, col, `parameter '${name}' is ${value}, not a finite number`);
    return value;
  };
  const param = (name: string, col: number, range?: Range, schedule?: 'sigma', role?: 'temperature'): Value => input(name, bound(name, col), range, schedule, role);

  for (const w of termWeights(s.expr)) checkWeight(s.text, w.term, numeric(s.text, w.weight, bound));

  type Evaluated = { c: number } | { v: Value };
  const asValue = (x: Evaluated): Value => ('v' in x ? x.v : g.scalar(x.c, dt));
  const seen = new Map<string, number>();
  const terms: CompiledLoss['terms'] = [];
  const tctx = termContext(ctx, s.ignoreIndex);

  // What a parameter met by `evaluate` is used as: a term's weight, or arithmetic inside an argument.
  let usedAs = 'weight';
  const evaluate = (e: Expr): Evaluated => {
    switch (e.kind) {
      case 'number': return { c: e.value };
      case 'param':
        use(e.name, usedAs);
        return { v: param(e.name, e.col) };
      case 'neg': {
        const a = evaluate(e.arg);
        return 'c' in a ? { c: -a.c } : { v: g.neg(a.v) };
      }
      case 'binary': {
        const a = evaluate(e.left);
        const b = evaluate(e.right);
        if ('c' in a && 'c' in b) return { c: numeric(s.text, { ...e, left: { kind: 'number', value: a.c, col: e.col }, right: { kind: 'number', value: b.c, col: e.col } }, bound) };
        const op = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div' } as const;
        return { v: g[op[e.op]](asValue(a), asValue(b)) };
      }
      case 'term': {
        const def = lossDefinition(e.name);
        const n = (seen.get(e.name) ?? 0) + 1;
        seen.set(e.name, n);
        const label = n === 1 ? e.name : `${e.name}#${n}`;
        const args: Record<string, ArgValue> = {};
        for (const [name, r] of Object.entries(resolveArgs(s.text, e, def))) {
          if (r.kind === 'fixed') {
            args[name] = r.value;
            continue;
          }
          const where = `'${name}' of '${e.name}'`;
          if (r.value !== undefined) {
            args[name] = input(`${label}.${name}`, r.value, r.spec.range, r.spec.schedule, r.spec.role);
          } else if (r.expr!.kind === 'param') {
            const p = r.expr as Extract<Expr, { kind: 'param' }>;
            const value = bound(p.name, p.col);
            if (!inRange(value, r.spec.range)) fail(s.text, p.col, `parameter '${p.name}' = ${value} is given as ${where}, which must be ${describeRange(r.spec.range!)}`);
            use(p.name, r.spec.schedule ?? 'argument');
            args[name] = param(p.name, p.col, r.spec.range, r.spec.schedule, r.spec.role);
          } else {
            const value = numeric(s.text, r.expr!, bound);
            if (!inRange(value, r.spec.range)) fail(s.text, r.col, `${where} is ${value} with the bound parameters; it must be ${describeRange(r.spec.range!)}`);
            if (r.spec.schedule) unscheduled.push({ schedule: r.spec.schedule, where: `${where} (${s.text.slice(r.col - 1).split(/[,)]/)[0]!.trim()})` });
            usedAs = 'argument';
            args[name] = asValue(evaluate(r.expr!));
            usedAs = 'weight';
          }
        }
        const value = g.scope(label, () => def.build(tctx, args));
        terms.push({ label, value });
        return { v: value };
      }
    }
  };
  const loss = evaluate(s.expr);
  if (!('v' in loss)) throw new LossgraphError(`loss spec '${s.text}' has no loss term`);
  // A parameter that feeds a schedulable argument and anything else cannot follow the schedule alone.
  for (const h of hypers) {
    const how = uses.get(h.name);
    if (!how || !h.schedule) continue;
    if (how.size > 1) {
      unscheduled.push({ schedule: h.schedule, where: `parameter '${h.name}', which is also used as ${[...how].filter((x) => x !== h.schedule).join(' and ')}` });
      h.schedule = undefined;
    }
  }
  return { loss: loss.v, hyperparameters: hypers, unscheduled, terms };
}

/**
 * The spec's prediction outputs from the model output: the rule of the first
 * term that has its own (thresholds, embeddings), else softmax and arg-max,
 * with the expected class when the spec is ordinal.
 */
export function predictions(spec: LossSpec, ctx: Omit<PredictContext, 'fixed'>): Predictions {
  for (const t of termsOf(spec.expr)) {
    const def = lossDefinition(t.name);
    if (def.predict) return def.predict({ ...ctx, fixed: fixedArgs(resolveArgs(spec.text, t, def)) });
  }
  const { g, out, classes } = ctx;
  const p = g.softmax(out, 1);
  const result: Predictions = { probabilities: p, class: g.argMax(out, 1) };
  if (spec.ordinal) result.expectedClass = g.reduceSum(g.mul(p, g.constant(out.dtype, [classes], Array.from({ length: classes }, (_, k) => k))), [1], false);
  return result;
}
