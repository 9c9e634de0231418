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
// A finished command exits, even if a library left a handle open (a Redis client reconnecting, say).
process.exit(await main(process.argv.slice(2)));
