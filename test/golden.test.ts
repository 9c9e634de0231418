import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GOLDEN_GRAPHS } from '../scripts/golden.ts';
import { assertStandardOnnx } from './helpers/standard.ts';

for (const [file, build] of Object.entries(GOLDEN_GRAPHS)) {
  test(`graphs/${file} regenerates byte for byte`, () => {
    const committed = new Uint8Array(readFileSync(new URL(`../graphs/${file}`, import.meta.url)));
    const built = build();
    assertStandardOnnx(built, file);
    assert.ok(Buffer.from(built).equals(Buffer.from(committed)), `graphs/${file} differs from a fresh build: run npm run graphs and review the change`);
  });
}
