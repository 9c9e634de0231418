// Writes test/fixtures/tensorboard/events.bin and, with the independent Python
// reader, expected.json (what it decodes from those bytes). Run once, when the
// writer changes on purpose:
//   apt-get install python3-protobuf python3-crc32c protobuf-compiler
//   node --import tsx scripts/make_tensorboard_fixture.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFixtureEvents } from '../test/helpers/tensorboard_fixture.ts';

const out = fileURLToPath(new URL('../test/fixtures/tensorboard/', import.meta.url));
const events = join(out, 'events.bin');
writeFileSync(events, writeFixtureEvents(mkdtempSync(join(tmpdir(), 'lossgraph-tb-'))));
const reader = fileURLToPath(new URL('./read_tfevents.py', import.meta.url));
writeFileSync(join(out, 'expected.json'), execFileSync('/usr/bin/python3', [reader, events]));
console.log(`wrote ${events} and expected.json`);
