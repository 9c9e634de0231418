// `lossgraph export`: a trained run as a static web bundle.
import type { Argv } from 'yargs';

export function exportCommand(cli: Argv): Argv {
  return cli.command(
    'export',
    'write a static web bundle of a trained run: a page that classifies and fine-tunes in the browser, offline',
    (y: Argv) => y
      .option('run', { type: 'string', demandOption: true, describe: 'the folder lossgraph train wrote' })
      .option('out', { type: 'string', demandOption: true, describe: 'the folder to write (replaced if it holds an earlier export)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace --out even if it is not an earlier export' })
      .option('json', { type: 'boolean', default: false }),
    async (a) => {
      const { exportBundle } = await import('../export.ts');
      const r = await exportBundle(a.run as string, a.out as string, { force: a.force as boolean });
      const summary = { out: r.out, files: r.files.length, bytes: r.bytes, page_js_bytes: r.pageBytes, worker_js_bytes: r.workerBytes };
      if (a.json) console.log(JSON.stringify(summary));
      else console.log(`wrote ${r.files.length} files (${(r.bytes / 1e6).toFixed(1)} MB with their compressed copies; ${r.page} ${(r.pageBytes / 1e3).toFixed(0)} kB, ${r.worker} ${(r.workerBytes / 1e3).toFixed(0)} kB) to ${r.out}\nserve it with: lossgraph serve ${r.out}`);
    },
  );
}
