#!/usr/bin/env node
// lossgraph is written in TypeScript and runs through tsx, so the sources are
// the program: no build step between a change and the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
