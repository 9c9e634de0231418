// lossgraph's version, from package.json, recorded in manifests and checkpoints.
// A JSON import rather than require: it bundles for the page as well.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
