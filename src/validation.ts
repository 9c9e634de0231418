// Every file and message lossgraph reads from outside (manifest.json, run.json,
// checkpoint metadata, queue jobs) is checked by one zod schema, and a value that
// does not fit becomes one line naming the file, the field and what was wrong,
// instead of an "internal error" wherever the value was first used.
import type { z } from 'zod';
import type { LossgraphError } from './errors.ts';

/** True when A and B name the same fields: a schema and the type it checks kept in step at compile time. */
export type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : false;

/**
 * `value` checked against `schema`; the first problem becomes `new Err('<where>: <field> <what>')`.
 * `name` says a field as the reader knows it (a command-line flag for settings that came from flags).
 */
export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, where: string, Err: new (message: string) => LossgraphError, name?: (path: readonly (string | number)[]) => string | undefined): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = name?.(issue.path) ?? (issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : 'the whole value');
  let what: string;
  if (issue.code === 'unrecognized_keys') what = `has ${issue.keys.map((k) => `'${k}'`).join(', ')}, ${issue.keys.length === 1 ? 'a field' : 'fields'} lossgraph does not know`;
  else if (issue.code === 'invalid_type') what = issue.received === 'undefined' ? 'is missing' : issue.expected === 'integer' ? 'must be a whole number' : `must be ${issue.expected}, not ${issue.received}`;
  else what = issue.message.replace(/^Invalid input$/, 'is not valid').replace(/^(Number|String|Array) must/, 'must').replace(/^[A-Z]/, (c) => c.toLowerCase());
  // A flag is said as the command line says it: `--batch must be ..., got 0`.
  if (name?.(issue.path) !== undefined) throw new Err(`${field} ${what.replace(/^is /, '')}, got ${JSON.stringify(valueAt(value, issue.path))}`);
  throw new Err(`${where}: ${field}: ${what}`);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), value);
}
