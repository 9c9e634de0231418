// The loss-spec language, shared by the API and the CLI:
//
//   spec    := sum
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/') unary)*
//   unary   := '-' unary | primary
//   primary := NUMBER | NAME [ '(' [args] ')' ] | '(' sum ')'
//   args    := positional (',' positional)* (',' keyword)* | keyword (',' keyword)*
//   keyword := NAME '=' sum
//
// A NAME that is a registered loss is a loss term (parentheses optional);
// any other NAME is a named parameter bound elsewhere (the driver's sweep,
// `--param w=0.3`). Parameter names hold no '.', so they never clash with the
// graph inputs of term arguments ('gaussian_kl.sigma'). An argument is a
// number, a parameter or arithmetic of those, never a loss term. Errors point
// at the column.
import { LossgraphError } from '../errors.ts';

export type Expr =
  | { kind: 'number'; value: number; col: number }
  | { kind: 'param'; name: string; col: number }
  | { kind: 'term'; name: string; args: TermArg[]; col: number }
  | { kind: 'neg'; arg: Expr; col: number }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/'; left: Expr; right: Expr; col: number };

export interface TermArg {
  /** Undefined for a positional argument. */
  name?: string;
  value: Expr;
  col: number;
}

interface Token {
  kind: 'number' | 'name' | 'op' | 'end';
  text: string;
  col: number;
}

/** A loss spec that does not parse or does not make sense. */
export class SpecError extends LossgraphError {
  override readonly code = 'LOSSGRAPH_SPEC';
}

function fail(spec: string, col: number, what: string): never {
  throw new SpecError(`loss spec '${spec}': ${what} at column ${col}`);
}

/**
 * Names the graphs give their own inputs and outputs (the artifacts' tensors and
 * the loss probe's). A parameter becomes a graph input of its own name, so one
 * of these would collide with the tensor; it is refused where it is written.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'input', 'logits', 'labels', 'targets', 'weights', 'importance', 'embeddings', 'loss', 'grad', 'grad_norm',
  'lr', 'step', 'seed', 'probabilities', 'scores', 'class', 'expected_class',
]);

/** Refuses a parameter (a name read as a number) with a reserved name, at its column; a choice value such as push=seed is not one. */
export function checkParamName(spec: string, name: string, col: number): void {
  if (RESERVED_NAMES.has(name)) {
    fail(spec, col, `'${name}' cannot be a parameter name: the graphs already have a tensor of that name (reserved: ${[...RESERVED_NAMES].join(', ')}); call it something else, e.g. '${name}_w'`);
  }
}

/** Deeper nesting than this is refused rather than risking the parser's stack. */
export const MAX_NESTING = 100;

function tokenize(spec: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_.]*)|([-+*/(),=]))/y;
  let pos = 0;
  while (pos < spec.length) {
    if (/^\s*$/.test(spec.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(spec);
    if (!m) {
      const col = pos + (spec.slice(pos).length - spec.slice(pos).trimStart().length) + 1;
      fail(spec, col, `unexpected character '${spec[col - 1]}'`);
    }
    const text = m[1] ?? m[2] ?? m[3]!;
    const col = m.index + m[0].length - text.length + 1;
    if (m[1] && !Number.isFinite(Number(text))) fail(spec, col, `number '${text}' is too large`);
    tokens.push({ kind: m[1] ? 'number' : m[2] ? 'name' : 'op', text, col });
    pos = re.lastIndex;
  }
  tokens.push({ kind: 'end', text: 'end of spec', col: spec.length + 1 });
  return tokens;
}

/** Parses a spec; `isLoss` tells loss names from parameter names, `knownLossNames` lists them for errors. */
/** Longer specs are refused: every walk over the parsed tree recurses once per operator. */
export const MAX_SPEC_LENGTH = 4096;

export function parseSpec(spec: string, isLoss: (name: string) => boolean, knownLossNames: () => string): Expr {
  if (spec.length > MAX_SPEC_LENGTH) throw new SpecError(`loss spec is ${spec.length} characters long; at most ${MAX_SPEC_LENGTH} are accepted`);
  const tokens = tokenize(spec);
  let i = 0;
  const peek = () => tokens[i]!;
  const next = () => tokens[i++]!;
  const expect = (text: string) => {
    const t = next();
    if (t.text !== text) fail(spec, t.col, `expected '${text}' but found '${t.text}'`);
  };

  const sum = (): Expr => {
    let left = product();
    while (peek().text === '+' || peek().text === '-') {
      const op = next();
      left = { kind: 'binary', op: op.text as '+' | '-', left, right: product(), col: op.col };
    }
    return left;
  };
  const product = (): Expr => {
    let left = unary();
    while (peek().text === '*' || peek().text === '/') {
      const op = next();
      left = { kind: 'binary', op: op.text as '*' | '/', left, right: unary(), col: op.col };
    }
    return left;
  };
  // Nesting depth (parentheses, unary minus) and whether we are inside a term's argument list.
  let depth = 0;
  let inArgument: string | undefined;
  const nested = <T>(col: number, f: () => T): T => {
    if (++depth > MAX_NESTING) fail(spec, col, `nesting deeper than ${MAX_NESTING} levels`);
    try {
      return f();
    } finally {
      depth--;
    }
  };
  const unary = (): Expr => {
    if (peek().text === '-') {
      const t = next();
      return nested(t.col, () => ({ kind: 'neg', arg: unary(), col: t.col }));
    }
    return primary();
  };
  const primary = (): Expr => {
    const t = next();
    if (t.kind === 'number') return { kind: 'number', value: Number(t.text), col: t.col };
    if (t.text === '(') {
      const e = nested(t.col, sum);
      expect(')');
      return e;
    }
    if (t.kind === 'name') {
      if (!isLoss(t.text)) {
        if (peek().text === '(') fail(spec, t.col, `unknown loss '${t.text}' (known losses: ${knownLossNames()})`);
        if (t.text.includes('.')) {
          fail(spec, t.col, `'${t.text}' is not a valid parameter name: parameter names cannot contain '.' (names like 'gaussian_kl.sigma' belong to term arguments; set those inside the term, e.g. gaussian_kl(sigma=2))`);
        }
        return { kind: 'param', name: t.text, col: t.col };
      }
      if (inArgument !== undefined) {
        fail(spec, t.col, `'${t.text}' is a loss term and cannot be an argument of '${inArgument}' (an argument is a number, a parameter or arithmetic of those)`);
      }
      const args: TermArg[] = [];
      if (peek().text === '(') {
        next();
        if (peek().text !== ')') {
          let keywordSeen = false;
          for (;;) {
            const at = peek();
            let name: string | undefined;
            if (at.kind === 'name' && tokens[i + 1]!.text === '=') {
              name = at.text;
              keywordSeen = true;
              i += 2;
            } else if (keywordSeen) {
              fail(spec, at.col, `positional argument of '${t.text}' after a keyword argument (name it, e.g. eps=0.2)`);
            }
            inArgument = t.text;
            try {
              args.push({ name, value: nested(at.col, sum), col: at.col });
            } finally {
              inArgument = undefined;
            }
            if (peek().text !== ',') break;
            next();
          }
        }
        expect(')');
      }
      return { kind: 'term', name: t.text, args, col: t.col };
    }
    fail(spec, t.col, t.kind === 'end' ? 'unexpected end of spec' : `unexpected '${t.text}'`);
  };

  const e = sum();
  if (peek().kind !== 'end') fail(spec, peek().col, `unexpected '${peek().text}'`);
  return e;
}

/** Whether `e` contains a loss term (terms may be scaled by, but not divided by or multiplied with, other terms). */
export function hasTerm(e: Expr): boolean {
  switch (e.kind) {
    case 'term': return true;
    case 'neg': return hasTerm(e.arg);
    case 'binary': return hasTerm(e.left) || hasTerm(e.right);
    default: return false;
  }
}

/** Every term in `e`, left to right. */
export function termsOf(e: Expr): Extract<Expr, { kind: 'term' }>[] {
  switch (e.kind) {
    case 'term': return [e];
    case 'neg': return termsOf(e.arg);
    case 'binary': return [...termsOf(e.left), ...termsOf(e.right)];
    default: return [];
  }
}
