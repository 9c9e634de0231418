// The event file behind test/fixtures/tensorboard/: a fixed sequence of
// scalars and a text summary written with a fixed clock, so the bytes are the
// same on every machine. scripts/make_tensorboard_fixture.ts writes it and
// records what an independent reader (scripts/read_tfevents.py: Google's
// protobuf runtime, the crc32c package) finds in it.
import { readFileSync, rmSync } from 'node:fs';
import { TensorBoardWriter } from '../../src/train/tensorboard.ts';

/** The scalars written, by step. */
export const FIXTURE_STEPS: Record<string, number>[] = [
  { 'train/loss': 2.302585, 'train/lr': 0.001, 'train/sigma': 1, 'train/grad_norm': 3.5 },
  { 'train/loss': 1.75, 'train/lr': 0.0005, 'train/loss/ce': 1.5, 'train/loss/gaussian_kl': 0.5 },
  { 'validation/accuracy': 0.875, 'validation/loss': 0.4, 'epoch/train_loss': 1e-7 },
];
export const FIXTURE_TEXT = '| setting | value |\n|---|---|\n| loss | "ce + 0.5*gaussian_kl(sigma=1)" |';

/** Writes the fixture's events into `dir` and returns the file's bytes. */
export function writeFixtureEvents(dir: string): Uint8Array {
  let t = 1_700_000_000;
  const tb = new TensorBoardWriter(dir, () => (t += 0.25));
  tb.text(0, 'hparams', FIXTURE_TEXT);
  FIXTURE_STEPS.forEach((values, i) => tb.scalars(i + 1, values));
  const bytes = readFileSync(tb.path);
  rmSync(tb.path);
  return bytes;
}
