// A loss spec's text made a checked, typed value (LossSpec), once, where it
// enters: known losses and arguments, literals in range, one head, one
// ignore_index, terms only scaled; and what the spec decides for everything
// downstream (head, needs, ordinality, parameters). compile.ts turns it into
// graph nodes.
import { LossgraphError } from '../errors.ts';
import { describeRange, inRange } from '../hyperparameters.ts';
import { isLoss, knownLosses, lossDefinition } from './registry.ts';
import { SpecError, checkParamName, hasTerm, parseSpec, termsOf, type Expr } from './spec.ts';
import type { ArgSpec, Head, LossDefinition, Need, TargetRule } from './types.ts';

export type Term = Extract<Expr, { kind: 'term' }>;

/** PyTorch's default ignore_index: a label no data set produces. */
export const DEFAULT_IGNORE_INDEX = -100;

export interface LossSpec {
  text: string;
  expr: Expr;
  /** What the model must output for this spec. */
  head: Head;
  /** The model head where the head kind alone does not decide it (CORAL's shared weights). */
  modelHead?: 'coral';
  /** Whether any term treats the classes as ordered (the inference graph adds the expected class). */
  ordinal: boolean;
  /** Data the spec's terms cannot do without. */
  needs: ReadonlySet<Need>;
  /** Terms that read single labels rather than targets (meaningless on multi-label or regression data). */
  labelTerms: readonly string[];
  /** Names of the parameters the spec refers to (bound by the caller). */
  params: readonly string[];
  /** The label every term of the spec ignores (one value for the whole spec). */
  ignoreIndex: number;
  /** What the spec's terms require of their targets, each rule with the first term that imposes it. */
  targetRules: ReadonlyMap<TargetRule, string>;
  /** Whether some term honours class weights. */
  readsClassWeights: boolean;
}

const HEAD_WORDS: Record<Head, string> = {
  logits: 'K class logits',
  thresholds: 'K-1 ordinal threshold logits',
  embedding: 'an embedding',
};

export function fail(spec: string, col: number, what: string): never {
  throw new SpecError(`loss spec '${spec}': ${what} at column ${col}`);
}

/** How many loss specs this process has parsed: a spec is parsed once at the edge and passed down (a test holds train to one). */
export const lossSpecParses = { count: 0 };

/** Parses and checks a spec: known losses and arguments, ranges, one head, one ignore_index, terms only scaled. */
export function parseLossSpec(text: string): LossSpec {
  lossSpecParses.count++;
  if (text.trim() === '') throw new SpecError(`loss spec is empty; known losses: ${knownLosses().join(', ')}`);
  const expr = parseSpec(text, isLoss, () => knownLosses().join(', '));
  const terms = termsOf(expr);
  if (terms.length === 0) {
    const first = firstParam(expr);
    if (first) fail(text, first.col, `unknown loss '${first.name}' (known losses: ${knownLosses().join(', ')})`);
    throw new SpecError(`loss spec '${text}' has no loss term; known losses: ${knownLosses().join(', ')}`);
  }
  checkStructure(text, expr);
  for (const p of paramRefs(expr)) checkParamName(text, p.name, p.col);
  // Weights made of numbers only are checked now; those with parameters when the parameters are bound.
  for (const w of termWeights(expr)) {
    if (!paramsIn(w.weight).length) checkWeight(text, w.term, numeric(text, w.weight, () => NaN));
  }
  const needs = new Set<Need>();
  let head: Head | undefined;
  let headFrom = '';
  let ignore: { value: number; from: string } | undefined;
  const threshold: LossDefinition[] = [];
  const labelTerms: string[] = [];
  const targetRules = new Map<TargetRule, string>();
  for (const t of terms) {
    const def = lossDefinition(t.name);
    if (def.targetRule && !targetRules.has(def.targetRule)) targetRules.set(def.targetRule, t.name);
    const args = resolveArgs(text, t, def);
    const fixed = fixedArgs(args);
    const termNeeds = [...(def.needs ?? []), ...(def.needsWhen?.(fixed) ?? [])];
    for (const n of termNeeds) needs.add(n);
    if (!termNeeds.includes('targets')) labelTerms.push(t.name);
    if (head && head !== def.head) {
      fail(text, t.col, `'${t.name}' reads ${HEAD_WORDS[def.head]} but '${headFrom}' reads ${HEAD_WORDS[head]}; they cannot be combined`);
    }
    head = def.head;
    headFrom = t.name;
    if (def.head === 'thresholds') threshold.push(def);
    const given = t.args.find((a, i) => (a.name ?? def.args[i]?.name) === 'ignore_index');
    if (given) {
      const value = fixed.ignore_index as number;
      if (ignore && ignore.value !== value) {
        fail(text, given.col, `'${t.name}' ignores label ${value} but '${ignore.from}' ignores ${ignore.value}; a spec has one ignore_index, which every term honours`);
      }
      ignore = { value, from: t.name };
    }
  }
  return {
    text,
    expr,
    head: head!,
    modelHead: threshold.length && threshold.every((d) => d.modelHead === 'coral') ? 'coral' : undefined,
    ordinal: terms.some((t) => lossDefinition(t.name).ordinal),
    needs,
    labelTerms,
    targetRules,
    readsClassWeights: terms.some((t) => lossDefinition(t.name).classWeights === true),
    params: [...new Set(paramsIn(expr))],
    ignoreIndex: ignore?.value ?? DEFAULT_IGNORE_INDEX,
  };
}

function firstParam(e: Expr): Extract<Expr, { kind: 'param' }> | undefined {
  if (e.kind === 'param') return e;
  if (e.kind === 'neg') return firstParam(e.arg);
  if (e.kind === 'binary') return firstParam(e.left) ?? firstParam(e.right);
  return undefined;
}

/** A spec is a weighted sum of terms: no products or quotients of terms, no constant offsets. */
function checkStructure(text: string, e: Expr): void {
  if (e.kind === 'neg') checkStructure(text, e.arg);
  if (e.kind !== 'binary') return;
  const [l, r] = [hasTerm(e.left), hasTerm(e.right)];
  if (e.op === '*' && l && r) fail(text, e.col, 'two loss terms cannot be multiplied (a spec is a weighted sum of terms)');
  if (e.op === '/' && r) fail(text, e.col, 'cannot divide by a loss term');
  if ((e.op === '+' || e.op === '-') && l !== r) {
    fail(text, e.col, `'${e.op}' adds a constant to a loss term; a spec is a weighted sum of loss terms, with numbers and parameters only as weights`);
  }
  checkStructure(text, e.left);
  checkStructure(text, e.right);
}

/** Parameter names in `e`, in coefficients and inside term arguments. */
function paramsIn(e: Expr): string[] {
  return paramRefs(e).map((p) => p.name);
}

/** The parameters `e` reads as numbers (not the names a choice argument takes, such as push=seed). */
function paramRefs(e: Expr): Extract<Expr, { kind: 'param' }>[] {
  switch (e.kind) {
    case 'param': return [e];
    case 'neg': return paramRefs(e.arg);
    case 'binary': return [...paramRefs(e.left), ...paramRefs(e.right)];
    case 'term': {
      const def = lossDefinition(e.name);
      return e.args.flatMap((a, i) => {
        const spec = a.name !== undefined ? def.args.find((s) => s.name === a.name) : def.args[i];
        return spec?.kind === 'hyper' ? paramRefs(a.value) : [];
      });
    }
    default: return [];
  }
}

/** The number `e` (no terms in it) stands for, with parameter values from `param`. */
export function numeric(text: string, e: Expr, param: (name: string, col: number) => number): number {
  switch (e.kind) {
    case 'number': return e.value;
    case 'param': return param(e.name, e.col);
    case 'neg': return -numeric(text, e.arg, param);
    case 'binary': {
      const a = numeric(text, e.left, param);
      const b = numeric(text, e.right, param);
      if (e.op === '/' && b === 0) fail(text, e.col, 'division by zero');
      const v = e.op === '+' ? a + b : e.op === '-' ? a - b : e.op === '*' ? a * b : a / b;
      if (!Number.isFinite(v) && Number.isFinite(a) && Number.isFinite(b)) fail(text, e.col, `'${e.op}' overflows to ${v}`);
      return v;
    }
    case 'term': throw new LossgraphError(`internal: term '${e.name}' inside a number`);
  }
}

/** Each term with the expression of its weight: the spec equals sum(weight * term). */
export function termWeights(e: Expr, weight: Expr = { kind: 'number', value: 1, col: 1 }): { term: Term; weight: Expr }[] {
  const times = (a: Expr, b: Expr, col: number): Expr => ({ kind: 'binary', op: '*', left: a, right: b, col });
  switch (e.kind) {
    case 'term': return [{ term: e, weight }];
    case 'neg': return termWeights(e.arg, { kind: 'neg', arg: weight, col: e.col });
    case 'binary':
      if (e.op === '+' || e.op === '-') {
        return [...termWeights(e.left, weight), ...termWeights(e.right, e.op === '-' ? { kind: 'neg', arg: weight, col: e.col } : weight)];
      }
      if (e.op === '/') return termWeights(e.left, { kind: 'binary', op: '/', left: weight, right: e.right, col: e.col });
      return hasTerm(e.left) ? termWeights(e.left, times(weight, e.right, e.col)) : termWeights(e.right, times(e.left, weight, e.col));
    default: return [];
  }
}

export function checkWeight(text: string, t: Term, w: number): void {
  if (Number.isNaN(w)) return; // depends on an unbound parameter: checked when it is bound
  if (!Number.isFinite(w)) fail(text, t.col, `the weight of '${t.name}' is ${w}`);
  if (w < 0) fail(text, t.col, `the weight of '${t.name}' is ${w}; a term's weight must be >= 0 (a negative weight rewards the loss growing without bound)`);
}

export type Resolved = Record<string, { kind: 'hyper'; spec: ArgSpec; expr?: Expr; value?: number; col: number } | { kind: 'fixed'; value: string | number }>;

export function fixedArgs(r: Resolved): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, a] of Object.entries(r)) if (a.kind === 'fixed') out[name] = a.value;
  return out;
}

export function resolveArgs(text: string, t: Term, def: LossDefinition): Resolved {
  const out: Resolved = {};
  const outOfRange = (spec: ArgSpec, v: number, col: number): never =>
    fail(text, col, `'${spec.name}' of '${t.name}' is ${v}; it must be ${describeRange(spec.range!)}`);
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
      if (v.kind === 'param') {
        out[spec.name] = { kind: 'hyper', spec, expr: v, col: a.col };
      } else if (paramsIn(v).length === 0) {
        const value = numeric(text, v, () => NaN);
        if (!inRange(value, spec.range)) outOfRange(spec, value, a.col);
        out[spec.name] = { kind: 'hyper', spec, value, col: a.col };
      } else {
        out[spec.name] = { kind: 'hyper', spec, expr: v, col: a.col };
      }
    } else if (spec.kind === 'int') {
      const n = paramsIn(v).length === 0 && v.kind !== 'param' ? numeric(text, v, () => NaN) : NaN;
      if (!Number.isInteger(n)) fail(text, a.col, `'${spec.name}' of '${t.name}' must be an integer`);
      // Beyond 2^53 a number is no longer the integer written (18446744073709551616 wrapped to 0 in int64).
      if (!Number.isSafeInteger(n)) fail(text, a.col, `'${spec.name}' of '${t.name}' is ${v.kind === 'number' ? 'too large' : n}: integers must lie within ±${Number.MAX_SAFE_INTEGER}`);
      if (!inRange(n, spec.range)) outOfRange(spec, n, a.col);
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
    if (!out[s.name]) out[s.name] = s.kind === 'hyper' ? { kind: 'hyper', spec: s, value: Number(s.default), col: t.col } : { kind: 'fixed', value: s.default };
  }
  return out;
}

