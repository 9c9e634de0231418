// The README is the front door: small, every link resolving, every command it
// shows still a command with those options, and the commands CI runs read
// from it. docs/cli.md is generated from the CLI and must be current.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cliReference } from '../scripts/cli_docs.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const markdown = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The lines of the first ```sh block under a `## ` heading, as .ci/run reads them. */
function block(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README.md has no '${heading}'`);
  const out: string[] = [];
  let inside = false;
  for (const line of lines.slice(start + 1)) {
    if (!inside && line.startsWith('## ')) break;
    if (!inside && line === '```sh') inside = true;
    else if (inside && line === '```') break;
    else if (inside && line.trim() && !line.startsWith('# ')) out.push(line);
  }
  return out;
}

test('README.md is at most 15 KB', () => {
  const size = Buffer.byteLength(read('README.md'));
  assert.ok(size <= 15 * 1024, `README.md is ${size} bytes`);
});

test('every relative link in README.md and docs/ resolves', () => {
  for (const file of markdown) {
    for (const m of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!.split('#')[0]!;
      if (!target || /^[a-z]+:/.test(target)) continue;
      assert.ok(existsSync(join(root, dirname(file), target)), `${file}: link to ${m[1]} does not resolve`);
    }
  }
});

test('CI runs exactly the README\'s commands, with no crutch the README lacks', () => {
  const readme = read('README.md');
  assert.deepEqual(block(readme, '## Quick start'), ['npm install && npm start', 'npm test']);
  const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>;
  const tests = block(readme, '## Tests');
  assert.ok(tests.length > 0);
  for (const line of tests) {
    const m = /^npm run ([\w:-]+)$/.exec(line);
    assert.ok(m && scripts[m[1]!], `README Tests block: '${line}' is not an npm script of package.json`);
  }
  const ci = read('.ci/run');
  assert.match(ci, /run_block '## Quick start'\nrun_block '## Tests'/);
  assert.doesNotMatch(ci, /^\s*export\s/m, '.ci/run exports a variable the README does not show');
  assert.doesNotMatch(ci, /ONNXRUNTIME_NODE_INSTALL|--ignore-scripts|^\s*npm /m, '.ci/run installs or runs npm outside the README blocks');
  // Network-fetching install scripts are switched off in package.json, not by an environment variable.
  assert.equal(JSON.parse(read('package.json')).allowScripts?.['onnxruntime-node'], false);
});

test('every npx lossgraph command in README.md names a command and options that exist', () => {
  const text = read('README.md').replace(/\\\n\s*/g, ' ');
  const commands = [...text.matchAll(/npx lossgraph (\w+)([^\n`|]*)/g)].map((m) => ({ command: m[1]!, rest: m[2]! }));
  assert.ok(commands.length >= 8, `only ${commands.length} commands found`);
  const helps = new Map<string, string>();
  for (const { command, rest } of commands) {
    if (!helps.has(command)) {
      const r = spawnSync(process.execPath, [join(root, 'bin/lossgraph.js'), command, '--help'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `lossgraph ${command} --help: ${r.stderr}`);
      helps.set(command, r.stdout);
    }
    const help = helps.get(command)!;
    for (const flag of rest.matchAll(/(?:^|\s)--(?:no-)?([a-z][\w-]*)/g)) {
      assert.match(help, new RegExp(`--${flag[1]}\\b`), `README: 'lossgraph ${command}' has no option --${flag[1]}`);
    }
  }
});

test('docs/cli.md is generated from the current command line (npm run docs:cli)', () => {
  assert.equal(read('docs/cli.md'), cliReference(), 'docs/cli.md is out of date: run npm run docs:cli');
});
