// Regenerates the golden graphs in graphs/.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GOLDEN_GRAPHS } from './golden.ts';

const dir = fileURLToPath(new URL('../graphs/', import.meta.url));
mkdirSync(dir, { recursive: true });
for (const [file, build] of Object.entries(GOLDEN_GRAPHS)) {
  const path = join(dir, file);
  writeFileSync(`${path}.tmp`, build());
  renameSync(`${path}.tmp`, path);
  console.log(`wrote graphs/${file}`);
}
