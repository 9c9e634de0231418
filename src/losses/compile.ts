// Turns a loss spec into graph nodes. Float arguments ('hyper') and named
// parameters become scalar graph inputs with their defaults recorded, so a
// schedule or a sweep changes them by feeding, without rebuilding the graph.
import { LossgraphError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import { isLoss, knownLosses, lossDefinition } from './registry.ts';
import { SpecError, hasTerm, parseSpec, termsOf, type Expr } from './spec.ts';
import type { ArgValue, Head, LossContext, LossDefinition, Need } from './types.ts';

type Term = Extract<Expr, { kind: 'term' }>;

export interface LossSpec {
  text: string;
  expr: Expr;
  /** What the model must output for this spec. */
  head: Head;
  /** Data the spec's terms cannot do without. */
  needs: ReadonlySet<Need>;
  /** Names of the parameters the spec refers to (bound by the caller). */
  params: readonly string[];
}

export interface Hyperparameter {
  /** The graph input's name, e.g. 'gaussian_kl.sigma' or a named parameter 'w'. */
  name: string;
  default: number;
  input: Value;
}

export interface CompiledLoss {
  loss: Value;
  hyperparameters: Hyperparameter[];
}

const HEAD_WORDS: Record<Head, string> = {
  logits: 'K class logits',
  thresholds: 'K-1 ordinal threshold logits',
  embedding: 'an embedding',
};

function fail(spec: string, col: number, what: string): never {
  throw new SpecError(`loss spec '${spec}': ${what} at column ${col}`);
}

/** Parses and checks a spec: known losses and arguments, one head, terms only scaled. */
export function parseLossSpec(text: string): LossSpec {
  if (text.trim() === '') throw new SpecError(`loss spec is empty; known losses: ${knownLosses().join(', ')}`);
  const expr = parseSpec(text, isLoss, () => knownLosses().join(', '));
  checkStructure(text, expr);
  const terms = termsOf(expr);
  if (terms.length === 0) {
    const first = firstParam(expr);
    if (first) fail(text, first.col, `unknown loss '${first.name}' (known losses: ${knownLosses().join(', ')})`);
    throw new SpecError(`loss spec '${text}' has no loss term; known losses: ${knownLosses().join(', ')}`);
  }
  const needs = new Set<Need>();
  let head: Head | undefined;
  let headFrom = '';
  for (const t of terms) {
    const def = lossDefinition(t.name);
    resolveArgs(text, t, def); // validates names, kinds and choices
    for (const n of def.needs ?? []) needs.add(n);
    if (head && head !== def.head) {
      fail(text, t.col, `'${t.name}' reads ${HEAD_WORDS[def.head]} but '${headFrom}' reads ${HEAD_WORDS[head]}; they cannot be combined`);
    }
    head = def.head;
    headFrom = t.name;
  }
  return { text, expr, head: head!, needs, params: [...new Set(paramsOf(expr, terms))] };
}

function firstParam(e: Expr): Extract<Expr, { kind: 'param' }> | undefined {
  if (e.kind === 'param') return e;
  if (e.kind === 'neg') return firstParam(e.arg);
  if (e.kind === 'binary') return firstParam(e.left) ?? firstParam(e.right);
  return undefined;
}

function checkStructure(text: string, e: Expr): void {
  if (e.kind === 'neg') checkStructure(text, e.arg);
  if (e.kind !== 'binary') return;
  if (e.op === '*' && hasTerm(e.left) && hasTerm(e.right)) fail(text, e.col, 'two loss terms cannot be multiplied (a spec is a weighted sum of terms)');
  if (e.op === '/' && hasTerm(e.right)) fail(text, e.col, 'cannot divide by a loss term');
  checkStructure(text, e.left);
  checkStructure(text, e.right);
}

/** Parameter names used in coefficients and in 'hyper' arguments (not choice words). */
function paramsOf(e: Expr, terms: Term[]): string[] {
  switch (e.kind) {
    case 'param': return [e.name];
    case 'neg': return paramsOf(e.arg, terms);
    case 'binary': return [...paramsOf(e.left, terms), ...paramsOf(e.right, terms)];
    case 'term': {
      const def = lossDefinition(e.name);
      return e.args.flatMap((a, i) => {
        const spec = def.args.find((s) => s.name === a.name) ?? def.args[i];
        return spec?.kind === 'hyper' ? paramsOf(a.value, terms) : [];
      });
    }
    default: return [];
  }
}

type Resolved = Record<string, { kind: 'hyper'; expr?: Expr; default: number } | { kind: 'fixed'; value: string | number }>;

function resolveArgs(text: string, t: Term, def: LossDefinition): Resolved {
  const out: Resolved = {};
  t.args.forEach((a, i) => {
    const spec = a.name !== undefined ? def.args.find((s) => s.name === a.name) : def.args[i];
    if (!spec) {
      const known = def.args.map((s) => s.name).join(', ') || 'none';
      if (a.name !== undefined) fail(text, a.col, `'${t.name}' has no argument '${a.name}' (its arguments: ${known})`);
      fail(text, a.col, `'${t.name}' takes ${def.args.length} argument(s) (${known})`);
    }
    if (out[spec.name]) fail(text, a.col, `argument '${spec.name}' of '${t.name}' given twice`);
    const v = a.value;
    if (spec.kind === 'hyper') {
      out[spec.name] = { kind: 'hyper', expr: v, default: Number(spec.default) };
    } else if (spec.kind === 'int') {
      const n = v.kind === 'number' ? v.value : v.kind === 'neg' && v.arg.kind === 'number' ? -v.arg.value : NaN;
      if (!Number.isInteger(n)) fail(text, a.col, `'${spec.name}' of '${t.name}' must be an integer`);
      out[spec.name] = { kind: 'fixed', value: n };
    } else {
      if (v.kind !== 'param') fail(text, a.col, `'${spec.name}' of '${t.name}' must be one of: ${spec.choices?.join(', ') ?? 'a name'}`);
      if (spec.choices && !spec.choices.includes(v.name)) {
        fail(text, a.col, `'${spec.name}=${v.name}' is not valid for '${t.name}'; choose one of: ${spec.choices.join(', ')}`);
      }
      out[spec.name] = { kind: 'fixed', value: v.name };
    }
  });
  for (const s of def.args) {
    if (!out[s.name]) out[s.name] = s.kind === 'hyper' ? { kind: 'hyper', default: Number(s.default) } : { kind: 'fixed', value: s.default };
  }
  return out;
}

export interface BuildLossOptions {
  /** Values of the spec's named parameters (w, alpha, ...): the defaults of their graph inputs. */
  params?: Readonly<Record<string, number>>;
  /** Bake hyperparameters and named parameters in as constants instead of graph inputs. */
  bake?: boolean;
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
  const byName = new Map<string, Value>();
  const input = (name: string, dflt: number): Value => {
    if (opts.bake) return g.scalar(dflt, dt);
    let v = byName.get(name);
    if (!v) {
      v = g.input(name, dt, []);
      byName.set(name, v);
      hypers.push({ name, default: dflt, input: v });
    }
    return v;
  };
  const param = (name: string, col: number): Value => {
    const value = opts.params?.[name];
    if (value === undefined) {
      fail(s.text, col, `parameter '${name}' has no value: bind it (e.g. --param ${name}=0.5) or use a known loss (${knownLosses().join(', ')})`);
    }
    return input(name, value);
  };

  type Evaluated = { c: number } | { v: Value };
  const asValue = (x: Evaluated): Value => ('v' in x ? x.v : g.scalar(x.c, dt));
  const seen = new Map<string, number>();

  const evaluate = (e: Expr): Evaluated => {
    switch (e.kind) {
      case 'number': return { c: e.value };
      case 'param': return { v: param(e.name, e.col) };
      case 'neg': {
        const a = evaluate(e.arg);
        return 'c' in a ? { c: -a.c } : { v: g.neg(a.v) };
      }
      case 'binary': {
        const a = evaluate(e.left);
        const b = evaluate(e.right);
        if ('c' in a && 'c' in b) {
          const c = e.op === '+' ? a.c + b.c : e.op === '-' ? a.c - b.c : e.op === '*' ? a.c * b.c : a.c / b.c;
          return { c };
        }
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
          if (r.kind === 'fixed') args[name] = r.value;
          else if (!r.expr || r.expr.kind === 'number') args[name] = input(`${label}.${name}`, r.expr?.kind === 'number' ? r.expr.value : r.default);
          else args[name] = asValue(evaluate(r.expr));
        }
        return { v: g.scope(label, () => def.build(ctx, args)) };
      }
    }
  };
  const loss = evaluate(s.expr);
  if (!('v' in loss)) throw new LossgraphError(`loss spec '${s.text}' has no loss term`);
  return { loss: loss.v, hyperparameters: hypers };
}
