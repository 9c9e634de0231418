// Writes docs/cli.md from the command line's own --help (the yargs
// definitions), so the reference cannot drift from the code. `npm run docs:cli`
// writes it; test/docs.test.ts checks the committed file is current.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));

function help(args: string[]): string {
  // Through a pipe yargs wraps help at 80 columns whatever the terminal, so the page is the same everywhere.
  const r = spawnSync(process.execPath, [bin, ...args, '--help'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lossgraph ${args.join(' ')} --help failed: ${r.stderr}`);
  return r.stdout.trimEnd();
}

/** The commands `lossgraph --help` lists, in its order. */
export function commands(top: string): string[] {
  return [...top.matchAll(/^ {2}lossgraph (\w+)/gm)].map((m) => m[1]!);
}

export function cliReference(): string {
  const top = help([]);
  const parts = [
    '# Command-line reference',
    '',
    'Generated from the command line\'s own `--help` by `npm run docs:cli`; a test fails when it is out of date.',
    'Every command prints one line and exits with code 2 on bad input; with `--json` the last line on stdout is one JSON object.',
    '',
    '```',
    top,
    '```',
  ];
  for (const c of commands(top)) parts.push('', `## lossgraph ${c}`, '', '```', help([c]), '```');
  return `${parts.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(fileURLToPath(new URL('../docs/cli.md', import.meta.url)), cliReference());
  console.log('wrote docs/cli.md');
}
