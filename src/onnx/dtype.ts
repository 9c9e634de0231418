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

const CODE_TO_DTYPE = new Map<number, DType>(
  Object.entries(ONNX_DTYPE_CODE).map(([k, v]) => [v, k as DType]),
);

export function dtypeFromCode(code: number): DType {
  const dt = CODE_TO_DTYPE.get(code);
  if (!dt) throw new Error(`unsupported ONNX element type code ${code}`);
  return dt;
}

export function isFloat(dt: DType): boolean {
  return dt === 'float32' || dt === 'float64';
}

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : Uint8Array;

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
