// Element types lossgraph emits, with their ONNX TensorProto.DataType codes and
// the typed arrays that hold them in JavaScript.

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

export const ONNX_DTYPE_CODE: Record<DType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

export function isFloat(dt: DType): boolean {
  return dt === 'float32' || dt === 'float64';
}

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** A typed array of the element type `dt` holding `values`. */
export function typedArray(dt: DType, values: ArrayLike<number | bigint | boolean>): AnyTypedArray {
  const n = values.length;
  switch (dt) {
    case 'float32':
      return Float32Array.from({ length: n }, (_, i) => Number(values[i]));
    case 'float64':
      return Float64Array.from({ length: n }, (_, i) => Number(values[i]));
    case 'int64':
      return BigInt64Array.from({ length: n }, (_, i) => BigInt(values[i] as number | bigint));
    case 'int32':
      return Int32Array.from({ length: n }, (_, i) => Number(values[i]));
    case 'bool':
      return Uint8Array.from({ length: n }, (_, i) => (values[i] ? 1 : 0));
  }
}
