/**
 * GGUF metadata values: the type ids the format gives them and a typed value for each.
 *
 * Why its own module: the model builders (qwen2TestModel) describe metadata with these values
 * without needing anything of how the file is written.
 */
/** GGUF metadata value type ids. */
export const GGUF_VALUE_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufScalarTypeName = Exclude<keyof typeof GGUF_VALUE_TYPE, "array">;
type NumberTypeName = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
type BigIntTypeName = "u64" | "i64";

/** A metadata value with its GGUF type. Arrays hold scalars of one type (no nesting). */
export type GgufValue =
  | { type: NumberTypeName; value: number }
  | { type: BigIntTypeName; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: NumberTypeName; value: ArrayLike<number> }
  | { type: "array"; itemType: BigIntTypeName; value: ArrayLike<bigint> }
  | { type: "array"; itemType: "bool"; value: ArrayLike<boolean> }
  | { type: "array"; itemType: "string"; value: ArrayLike<string> };

/** Shorthands for metadata values: `gv.u32(3)`, `gv.array("string", ["a", "b"])`. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: "u8", value }),
  i8: (value: number): GgufValue => ({ type: "i8", value }),
  u16: (value: number): GgufValue => ({ type: "u16", value }),
  i16: (value: number): GgufValue => ({ type: "i16", value }),
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  f64: (value: number): GgufValue => ({ type: "f64", value }),
  u64: (value: bigint): GgufValue => ({ type: "u64", value }),
  i64: (value: bigint): GgufValue => ({ type: "i64", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  string: (value: string): GgufValue => ({ type: "string", value }),
  array(itemType: GgufScalarTypeName, value: ArrayLike<number> | ArrayLike<bigint> | ArrayLike<boolean> | ArrayLike<string>): GgufValue {
    return { type: "array", itemType, value } as GgufValue;
  },
};
