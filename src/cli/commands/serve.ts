// `lossgraph serve`: an exported bundle served on this machine.
import type { Argv } from 'yargs';

export function serveCommand(cli: Argv): Argv {
  return cli.command(
    'serve <dir>',
    'serve an exported bundle on this machine, with the headers multi-threaded wasm needs',
    (y: Argv) => y
      .positional('dir', { type: 'string', demandOption: true, describe: 'the folder lossgraph export wrote' })
      .option('port', { type: 'number', default: 8080 })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind; keep 127.0.0.1 unless others must reach it' }),
    async (a) => {
      const { serve } = await import('../serve.ts');
      const host = a.host as string;
      const { url } = await serve(a.dir as string, { port: a.port as number, host });
      // Anything but loopback lets the network in: say so, since the page offers the model's weights for download.
      if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) process.stderr.write(`lossgraph: warning: --host ${host} serves the bundle (its model and weights included) to every machine that can reach this one; keep 127.0.0.1 unless that is meant\n`);
      console.log(`serving ${a.dir} at ${url} (Ctrl+C stops)`);
      await new Promise(() => {});
    },
  );
}
