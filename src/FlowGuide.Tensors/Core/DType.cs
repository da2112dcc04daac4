namespace FlowGuide.Tensors;

/// <summary>
/// Element types a checkpoint can store. Tensors compute in float32; these name the on-disk encodings that
/// <see cref="DTypeConvert"/> reads into and writes from float32 (all little-endian, as in safetensors).
/// </summary>
public enum DType
{
    /// <summary>IEEE binary32.</summary>
    F32,
    /// <summary>IEEE binary16 (half): 5 exponent bits, 10 mantissa bits; max 65504.</summary>
    F16,
    /// <summary>bfloat16: the top 16 bits of a float32 (8 exponent bits, 7 mantissa bits).</summary>
    BF16,
    /// <summary>IEEE binary64.</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>One byte per element; zero is false, anything else true.</summary>
    Bool,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element on disk.</summary>
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.F64 or DType.I64 => 8,
        DType.U8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), $"ElementSize: unknown dtype {(int)dtype}."),
    };

    /// <summary>True for the floating-point encodings (F32, F16, BF16, F64).</summary>
    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.F32 or DType.F16 or DType.BF16 or DType.F64;

    /// <summary>The dtype string a safetensors header uses ("F32", "BF16", "BOOL", ...).</summary>
    public static string SafetensorsName(this DType dtype) => dtype switch
    {
        DType.Bool => "BOOL",
        DType.F32 or DType.F16 or DType.BF16 or DType.F64 or DType.I64 or DType.I32 or DType.U8 => dtype.ToString(),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), $"SafetensorsName: unknown dtype {(int)dtype}."),
    };

    /// <summary>Parses a safetensors dtype string (case-insensitive); returns false for types this library cannot load.</summary>
    public static bool TryParseSafetensors(string name, out DType dtype)
    {
        switch (name.ToUpperInvariant())
        {
            case "F32": dtype = DType.F32; return true;
            case "F16": dtype = DType.F16; return true;
            case "BF16": dtype = DType.BF16; return true;
            case "F64": dtype = DType.F64; return true;
            case "I64": dtype = DType.I64; return true;
            case "I32": dtype = DType.I32; return true;
            case "U8": dtype = DType.U8; return true;
            case "BOOL": dtype = DType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>Parses a safetensors dtype string, throwing an error that lists the supported ones.</summary>
    public static DType ParseSafetensors(string name) =>
        TryParseSafetensors(name, out var d)
            ? d
            : throw new ArgumentException($"DType: unsupported dtype \"{name}\"; expected one of F32, F16, BF16, F64, I64, I32, U8, BOOL.");
}
