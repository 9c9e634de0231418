// The safetensors checkpoint format (Hugging Face): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte
// range, then the raw little-endian data. No maintained npm package covers
// it, and the format is small and fully specified, so it lives here. Plain
// Uint8Array / TextEncoder, no Buffer: the page reads and writes checkpoints too.
import { ArtifactError } from '../errors.ts';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: NamedTensor[];
  metadata: Record<string, string>;
}

/** Serialises float32 tensors and string metadata. Tensors are stored in the given order. */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  const encoder = new TextEncoder();
  json += ' '.repeat((8 - ((8 + encoder.encode(json).length) % 8)) % 8);
  const head = encoder.encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, where: string): SafetensorsFile {
  const bad = (why: string): never => {
    throw new ArtifactError(`${where}: not a valid safetensors checkpoint (${why})`);
  };
  if (bytes.length < 8) bad('file too short');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) bad('bad header length');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    return bad('header is not JSON');
  }
  // Checked field by field (this file is read by the page too, which carries no schema library).
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('the header is not an object');
  const meta = header.__metadata__;
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Object.values(meta).some((v) => typeof v !== 'string'))) bad('__metadata__ is not an object of strings');
  const base = 8 + n;
  const tensors: NamedTensor[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (typeof info !== 'object' || info === null) bad(`tensor '${name}' has no description`);
    const t = info as { dtype: unknown; shape: unknown; data_offsets: unknown };
    if (t.dtype !== 'F32') bad(`tensor '${name}' has dtype ${String(t.dtype)}; lossgraph checkpoints hold F32`);
    const dims = t.shape;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`tensor '${name}' has shape ${JSON.stringify(dims)}; dimensions are integers >= 0`);
    const offsets = t.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) bad(`tensor '${name}' has bad offsets`);
    const [b, e] = offsets as [number, number];
    const count = (dims as number[]).reduce((a, d) => a * d, 1);
    if (e - b !== count * 4 || base + e > bytes.length) bad(`tensor '${name}' has bad offsets`);
    // Copy into an aligned buffer: the data section need not be 4-byte aligned in memory.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(base + b!, base + e!));
    tensors.push({ name, shape: dims as number[], data });
  }
  tensors.sort((a, b) => (header[a.name] as { data_offsets: number[] }).data_offsets[0]! - (header[b.name] as { data_offsets: number[] }).data_offsets[0]!);
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}
