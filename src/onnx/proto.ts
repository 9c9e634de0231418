// ModelProto encoding and decoding through onnx-proto's generated protobufjs code.
import onnxProto from 'onnx-proto';
import { ONNX_DTYPE_CODE, type AnyTypedArray, type DType } from './dtype.ts';

export const onnx = onnxProto.onnx;
export type ModelProto = InstanceType<typeof onnx.ModelProto>;
export type TensorProto = InstanceType<typeof onnx.TensorProto>;

/** A TensorProto whose payload is the raw little-endian bytes of `data`. */
export function tensorProto(name: string, dtype: DType, dims: readonly number[], data: AnyTypedArray): TensorProto {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({
    name,
    dataType: ONNX_DTYPE_CODE[dtype],
    dims: dims.slice(),
    rawData: bytes.slice(),
  });
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}
