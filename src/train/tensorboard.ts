// TensorBoard event files, so a run shows up in `tensorboard --logdir DIR`:
// TFRecord framing (a little-endian uint64 length and the masked CRC-32C of
// those 8 bytes, the record, the masked CRC-32C of the record) around `Event`
// protocol buffers (tensorflow/core/util/event.proto) holding `Summary` values
// (tensorflow/core/framework/summary.proto). The messages are encoded by
// protobufjs from the few fields used here; the framing is written by hand, as
// TensorFlow documents it. Node only.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';

const root = protobuf.Root.fromJSON({
  nested: {
    Event: { fields: { wallTime: { type: 'double', id: 1 }, step: { type: 'int64', id: 2 }, fileVersion: { type: 'string', id: 3 }, summary: { type: 'Summary', id: 5 } } },
    Summary: { fields: { value: { rule: 'repeated', type: 'Value', id: 1 } } },
    Value: { fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 }, metadata: { type: 'SummaryMetadata', id: 9 }, tensor: { type: 'TensorProto', id: 8 } } },
    SummaryMetadata: { fields: { pluginData: { type: 'PluginData', id: 1 } } },
    PluginData: { fields: { pluginName: { type: 'string', id: 1 }, content: { type: 'bytes', id: 2 } } },
    TensorProto: { fields: { dtype: { type: 'int32', id: 1 }, tensorShape: { type: 'TensorShapeProto', id: 2 }, stringVal: { rule: 'repeated', type: 'bytes', id: 8 } } },
    TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dim', id: 2 } } },
    Dim: { fields: { size: { type: 'int64', id: 1 } } },
  },
});
const Event = root.lookupType('Event');
/** TensorFlow's DT_STRING. */
const DT_STRING = 7;

/** CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), table built once. */
const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotated right by 15 bits plus a constant, so a CRC of CRCs does not degenerate. */
function masked(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, its masked CRC, the data, its masked CRC. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, masked(crc32c(out.subarray(0, 8))), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, masked(crc32c(data)), true);
  return out;
}

type EventFields = { wallTime: number; step?: number; fileVersion?: string; summary?: { value: unknown[] } };

/** Appends events to one `events.out.tfevents.*` file in `dir` as they come (one write per call: a run that stops keeps what it logged). */
export class TensorBoardWriter {
  readonly path: string;

  constructor(dir: string, private readonly clock: () => number = () => Date.now() / 1000) {
    mkdirSync(dir, { recursive: true });
    const now = this.clock();
    this.path = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}.${process.pid}.lossgraph`);
    writeFileSync(this.path, this.record({ wallTime: now, fileVersion: 'brain.Event:2' }));
  }

  /** Scalars at one step, e.g. { 'train/loss': 0.3, 'train/lr': 1e-3 }; non-finite values are left out. */
  scalars(step: number, values: Readonly<Record<string, number | undefined>>): void {
    const value = Object.entries(values).filter(([, v]) => v !== undefined && Number.isFinite(v)).map(([tag, v]) => ({ tag, simpleValue: v }));
    if (value.length) appendFileSync(this.path, this.record({ wallTime: this.clock(), step, summary: { value } }));
  }

  /** A text summary (TensorBoard's Text tab), in markdown. */
  text(step: number, tag: string, markdown: string): void {
    const value = [{
      tag,
      metadata: { pluginData: { pluginName: 'text' } },
      tensor: { dtype: DT_STRING, tensorShape: { dim: [] }, stringVal: [new TextEncoder().encode(markdown)] },
    }];
    appendFileSync(this.path, this.record({ wallTime: this.clock(), step, summary: { value } }));
  }

  private record(fields: EventFields): Uint8Array {
    return tfRecord(Event.encode(Event.fromObject(fields)).finish());
  }
}
