#!/usr/bin/env node
// The lossgraph command. An installed package runs its compiled JavaScript
// (dist/, made by `npm run build` at pack time); a checkout of the repository,
// which has no dist/, runs the TypeScript sources through tsx (a devDependency),
// so a change needs no build step.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
let main;
if (existsSync(compiled)) {
  ({ main } = await import(compiled.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
const code = await main(process.argv.slice(2));
// Into a pipe, Node writes stdout and stderr asynchronously: exiting at once
// would cut what is still queued (a large --json, a table read by a slow
// reader). An empty write's callback runs once everything before it is out.
const flushed = (stream) => new Promise((resolve) => {
  if (stream.destroyed || !stream.writable) return resolve();
  stream.once('error', () => resolve()); // the reader went away (EPIPE): nothing more to deliver
  stream.write('', () => resolve());
});
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// A finished command exits, even if a library left a handle open (a Redis client reconnecting, say).
process.exit(code);
