// lossgraph's version, from package.json, recorded in manifests and checkpoints.
import { createRequire } from 'node:module';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
