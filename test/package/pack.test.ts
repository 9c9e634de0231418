// The package as a user gets it: `npm pack` of a copy of the repository, the
// tarball installed into a fresh project by the README's own "Use it in your
// project" block (no tsx, no TypeScript there, no environment variable), then
// `npx lossgraph --help` and `import { build } from 'lossgraph'`. Run by
// `npm run test:package` (CI runs it after npm test): it installs the
// dependencies from npm's cache or the registry, which takes a minute.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
// A user's environment: none of the npm_config_* variables `npm run` passes down, and no user .npmrc
// (this machine's sets a key npm warns about, which is not lossgraph's doing).
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  NPM_CONFIG_USERCONFIG: '/dev/null',
  NPM_CONFIG_FUND: 'false',
  NPM_CONFIG_AUDIT: 'false',
  NPM_CONFIG_UPDATE_NOTIFIER: 'false',
};

test('npm pack gives a tarball that installs and runs in a fresh project', { timeout: 600_000 }, (t) => {
  const root = mkdtempSync(join(tmpdir(), 'lossgraph-pack-'));
  // Pack a copy of the tracked files, so the repository itself never gets a dist/ that would shadow its sources.
  const copy = join(root, 'repo');
  for (const f of execFileSync('git', ['ls-files'], { cwd: repo, encoding: 'utf8' }).trim().split('\n')) {
    if (!existsSync(join(repo, f))) continue;
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(repo, f), join(copy, f));
  }
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
  const packed = spawnSync('npm', ['pack', '--pack-destination', root], { cwd: copy, env, encoding: 'utf8' });
  assert.equal(packed.status, 0, packed.stderr);
  const tarball = readdirSync(root).find((f) => f.endsWith('.tgz'))!;
  t.diagnostic(`packed ${tarball}`);

  const app = join(root, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // The README's block, line by line, with the tarball in place of the registry's lossgraph.
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use it in your project'));
  const lines = section.slice(section.indexOf('```sh\n') + 6, section.indexOf('\n```', section.indexOf('```sh\n'))).split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  assert.ok(lines.some((l) => /^npm install lossgraph$/.test(l)), `the README's block: ${lines.join(' / ')}`);
  for (const line of lines) {
    const cmd = line.replace(/^npm install lossgraph$/, `npm install ${join(root, tarball)} --prefer-offline`);
    const r = spawnSync('bash', ['-c', cmd], { cwd: app, env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${line}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /npm warn/i, `${line} warned: ${r.stderr}`);
  }
  assert.equal(existsSync(join(app, 'node_modules', 'tsx')), false, 'tsx is not installed for users');
  assert.equal(existsSync(join(app, 'node_modules', 'typescript')), false, 'TypeScript is not installed for users');
  assert.ok(existsSync(join(app, 'node_modules', 'lossgraph', 'dist', 'index.d.ts')), 'types ship');

  const help = spawnSync('npx', ['lossgraph', '--help'], { cwd: app, env, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^lossgraph <command>/);
  assert.equal(help.stderr.trim(), '', 'no warning lines');

  writeFileSync(join(app, 'use.mjs'), `import { build, parseLossSpec } from 'lossgraph';
const paths = build({ model: 'mlp:8', loss: 'ce + 0.5*gaussian_kl(sigma=1)', classes: 4, input: [1, 4, 4], optimizer: 'adamw', seed: 0, out: 'run' });
console.log(JSON.stringify({ files: Object.keys(paths), head: parseLossSpec('coral').head }));
`);
  const used = spawnSync(process.execPath, ['use.mjs'], { cwd: app, env, encoding: 'utf8' });
  assert.equal(used.status, 0, used.stderr);
  const out = JSON.parse(used.stdout);
  assert.deepEqual(out.files.sort(), ['checkpoint', 'eval', 'inference', 'manifest', 'training']);
  assert.equal(out.head, 'thresholds');
  assert.ok(existsSync(join(app, 'run', 'training_model.onnx')));

  const train = spawnSync('npx', ['lossgraph', 'train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', '--out', 'trained', '--json'], { cwd: app, env, encoding: 'utf8' });
  assert.equal(train.status, 0, train.stderr);
  assert.ok(JSON.parse(train.stdout.trim().split('\n').pop()!).test.accuracy > 0.2);
});
