using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

/// <summary>
/// Conversions between float32 and the <see cref="DType"/> encodings, on typed spans and on little-endian bytes.
/// </summary>
/// <remarks>
/// <para>Float to half and float to bfloat16 round to nearest, ties to even; overflow becomes infinity; NaN stays NaN
/// (made quiet, sign and leading payload bits kept). Half and bfloat16 to float are exact. Float to integer types
/// truncates toward zero and saturates, with NaN giving 0; float to Bool gives 1 for anything non-zero (NaN included).</para>
/// <para>The F16 and BF16 readers are vectorised and split large inputs across threads (a 1.3B-parameter BF16
/// checkpoint goes through them). Byte readers use <see cref="MemoryMarshal"/> reinterpretation on little-endian hosts
/// and <see cref="BinaryPrimitives"/> per element otherwise; the per-element paths (<see cref="ToFloatScalar"/>,
/// <see cref="FromFloatScalar"/> and the bit-level scalar converters) are the twins the fast ones are tested against.</para>
/// </remarks>
public static class DTypeConvert
{
    private const int ParallelChunk = 1 << 16;

    // ---------------------------------------------------------------- bytes

    /// <summary>Decodes little-endian elements of <paramref name="dtype"/> into float32; <paramref name="src"/> must hold exactly destination.Length elements.</summary>
    public static void ToFloat(ReadOnlySpan<byte> src, DType dtype, Span<float> dst)
    {
        CheckSizes(nameof(ToFloat), src.Length, dtype, dst.Length);
        if (!BitConverter.IsLittleEndian) { ToFloatScalar(src, dtype, dst); return; }
        switch (dtype)
        {
            case DType.F32: MemoryMarshal.Cast<byte, float>(src).CopyTo(dst); break;
            case DType.F16: HalfToFloat(MemoryMarshal.Cast<byte, ushort>(src), dst); break;
            case DType.BF16: BFloat16ToFloat(MemoryMarshal.Cast<byte, ushort>(src), dst); break;
            case DType.F64: DoubleToFloat(MemoryMarshal.Cast<byte, double>(src), dst); break;
            case DType.I64: Int64ToFloat(MemoryMarshal.Cast<byte, long>(src), dst); break;
            case DType.I32: Int32ToFloat(MemoryMarshal.Cast<byte, int>(src), dst); break;
            case DType.U8: UInt8ToFloat(src, dst); break;
            case DType.Bool: BoolToFloat(src, dst); break;
        }
    }

    /// <summary>Encodes float32 values as little-endian <paramref name="dtype"/> elements; <paramref name="dst"/> must be exactly the encoded size.</summary>
    public static void FromFloat(ReadOnlySpan<float> src, DType dtype, Span<byte> dst)
    {
        CheckSizes(nameof(FromFloat), dst.Length, dtype, src.Length);
        if (!BitConverter.IsLittleEndian) { FromFloatScalar(src, dtype, dst); return; }
        switch (dtype)
        {
            case DType.F32: src.CopyTo(MemoryMarshal.Cast<byte, float>(dst)); break;
            case DType.F16: FloatToHalf(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            case DType.BF16: FloatToBFloat16(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            default: FromFloatScalar(src, dtype, dst); break;
        }
    }

    /// <summary>Per-element twin of <see cref="ToFloat"/> (BinaryPrimitives reads, bit-level conversions); works on any host.</summary>
    public static void ToFloatScalar(ReadOnlySpan<byte> src, DType dtype, Span<float> dst)
    {
        CheckSizes(nameof(ToFloatScalar), src.Length, dtype, dst.Length);
        int size = dtype.ElementSize();
        for (int i = 0; i < dst.Length; i++)
        {
            var b = src.Slice(i * size, size);
            dst[i] = dtype switch
            {
                DType.F32 => BinaryPrimitives.ReadSingleLittleEndian(b),
                DType.F16 => HalfBitsToFloat(BinaryPrimitives.ReadUInt16LittleEndian(b)),
                DType.BF16 => BFloat16BitsToFloat(BinaryPrimitives.ReadUInt16LittleEndian(b)),
                DType.F64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
                DType.I64 => BinaryPrimitives.ReadInt64LittleEndian(b),
                DType.I32 => BinaryPrimitives.ReadInt32LittleEndian(b),
                DType.U8 => b[0],
                _ => b[0] != 0 ? 1f : 0f,
            };
        }
    }

    /// <summary>Per-element twin of <see cref="FromFloat"/>; works on any host.</summary>
    public static void FromFloatScalar(ReadOnlySpan<float> src, DType dtype, Span<byte> dst)
    {
        CheckSizes(nameof(FromFloatScalar), dst.Length, dtype, src.Length);
        int size = dtype.ElementSize();
        for (int i = 0; i < src.Length; i++)
        {
            var b = dst.Slice(i * size, size);
            float v = src[i];
            switch (dtype)
            {
                case DType.F32: BinaryPrimitives.WriteSingleLittleEndian(b, v); break;
                case DType.F16: BinaryPrimitives.WriteUInt16LittleEndian(b, FloatToHalfBits(v)); break;
                case DType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(b, FloatToBFloat16Bits(v)); break;
                case DType.F64: BinaryPrimitives.WriteDoubleLittleEndian(b, v); break;
                case DType.I64: BinaryPrimitives.WriteInt64LittleEndian(b, SaturateToInt64(v)); break;
                case DType.I32: BinaryPrimitives.WriteInt32LittleEndian(b, (int)Math.Clamp(SaturateToInt64(v), int.MinValue, int.MaxValue)); break;
                case DType.U8: b[0] = (byte)Math.Clamp(SaturateToInt64(v), 0, 255); break;
                default: b[0] = v != 0 ? (byte)1 : (byte)0; break;
            }
        }
    }

    private static void CheckSizes(string op, int byteLength, DType dtype, int elements)
    {
        int size = dtype.ElementSize();
        if ((long)elements * size != byteLength)
            throw new ArgumentException(
                $"DTypeConvert.{op}: {byteLength} bytes of {dtype} ({size} bytes each) do not match {elements} float elements; expected {(long)elements * size} bytes.");
    }

    private static long SaturateToInt64(float v)
    {
        if (float.IsNaN(v)) return 0;
        if (v >= 9.223372E18f) return long.MaxValue; // 2^63
        if (v <= -9.223372E18f) return long.MinValue;
        return (long)v; // truncates toward zero; exact for |v| < 2^63
    }

    // ---------------------------------------------------------------- half

    /// <summary>Half bit patterns to float32 (exact; NaN made quiet). Vectorised, parallel for large inputs.</summary>
    public static void HalfToFloat(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        CheckLengths(nameof(HalfToFloat), src.Length, dst.Length);
        ParallelChunks(src, dst, static (s, d) => TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(s), d));
    }

    /// <summary>Float32 to half bit patterns, round to nearest even. Vectorised.</summary>
    public static void FloatToHalf(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        CheckLengths(nameof(FloatToHalf), src.Length, dst.Length);
        TensorPrimitives.ConvertToHalf(src, MemoryMarshal.Cast<ushort, Half>(dst));
    }

    /// <summary>One half bit pattern to float32, by bit manipulation (the scalar twin of <see cref="HalfToFloat"/>).</summary>
    public static float HalfBitsToFloat(ushort h)
    {
        uint sign = (uint)(h & 0x8000) << 16;
        uint exp = (uint)(h >> 10) & 0x1F, mant = (uint)h & 0x3FF;
        if (exp == 0x1F) // inf or NaN; NaN gets the quiet bit, as hardware conversions do
            return BitConverter.UInt32BitsToSingle(sign | 0x7F800000 | (mant << 13) | (mant != 0 ? 0x00400000u : 0u));
        if (exp == 0)
        {
            if (mant == 0) return BitConverter.UInt32BitsToSingle(sign);
            float sub = mant * (1f / 16777216f); // m * 2^-24, exact
            return BitConverter.UInt32BitsToSingle(sign | BitConverter.SingleToUInt32Bits(sub));
        }
        return BitConverter.UInt32BitsToSingle(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /// <summary>One float32 to a half bit pattern, round to nearest even, by bit manipulation (the scalar twin of <see cref="FloatToHalf"/>).</summary>
    public static ushort FloatToHalfBits(float f)
    {
        uint x = BitConverter.SingleToUInt32Bits(f);
        uint sign = (x >> 16) & 0x8000, a = x & 0x7FFFFFFF;
        if (a > 0x7F800000) return (ushort)(sign | 0x7E00 | ((a >> 13) & 0x3FF)); // NaN: quiet, top payload kept
        if (a >= 0x477FF000) return (ushort)(sign | 0x7C00);                     // >= 65520 (or inf): infinity
        if (a >= 0x38800000)                                                       // normal half: >= 2^-14
        {
            uint r = a + 0xFFF + ((a >> 13) & 1); // round to nearest even at bit 13; a carry bumps the exponent
            return (ushort)(sign | ((r >> 13) - (112u << 10)));
        }
        if (a <= 0x33000000) return (ushort)sign; // <= 2^-25: rounds to zero (2^-25 is a tie, to even)
        // Subnormal half: value / 2^-24 = m * 2^(e - 126), shift in [14, 24].
        uint m = (a & 0x7FFFFF) | 0x800000;
        int shift = 126 - (int)(a >> 23);
        uint q = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1) != 0)) q++;
        return (ushort)(sign | q);
    }

    // ---------------------------------------------------------------- bfloat16

    /// <summary>Bfloat16 bit patterns to float32 (exact: a 16-bit shift). Vectorised, parallel for large inputs.</summary>
    public static void BFloat16ToFloat(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        CheckLengths(nameof(BFloat16ToFloat), src.Length, dst.Length);
        ParallelChunks(src, dst, static (s, d) => BFloat16ToFloatChunk(s, d));
    }

    private static void BFloat16ToFloatChunk(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        int n = src.Length, i = 0;
        ref ushort s = ref MemoryMarshal.GetReference(src);
        ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(dst));
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, (nuint)i));
                Vector512.ShiftLeft(lo, 16).StoreUnsafe(ref d, (nuint)i);
                Vector512.ShiftLeft(hi, 16).StoreUnsafe(ref d, (nuint)(i + 16));
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
                Vector256.ShiftLeft(lo, 16).StoreUnsafe(ref d, (nuint)i);
                Vector256.ShiftLeft(hi, 16).StoreUnsafe(ref d, (nuint)(i + 8));
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref s, (nuint)i));
                Vector128.ShiftLeft(lo, 16).StoreUnsafe(ref d, (nuint)i);
                Vector128.ShiftLeft(hi, 16).StoreUnsafe(ref d, (nuint)(i + 4));
            }
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = (uint)Unsafe.Add(ref s, i) << 16;
    }

    /// <summary>Float32 to bfloat16 bit patterns, round to nearest even; NaN stays a quiet NaN. Vectorised.</summary>
    public static void FloatToBFloat16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        CheckLengths(nameof(FloatToBFloat16), src.Length, dst.Length);
        int n = src.Length, i = 0;
        ref uint s = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(src));
        ref ushort d = ref MemoryMarshal.GetReference(dst);
        if (Vector256.IsHardwareAccelerated)
        {
            var absMask = Vector256.Create(0x7FFFFFFFu);
            var inf = Vector256.Create(0x7F800000u);
            for (; i <= n - 16; i += 16)
            {
                var a = Round(Vector256.LoadUnsafe(ref s, (nuint)i));
                var b = Round(Vector256.LoadUnsafe(ref s, (nuint)(i + 8)));
                Vector256.Narrow(a, b).StoreUnsafe(ref d, (nuint)i);
            }

            Vector256<uint> Round(Vector256<uint> x)
            {
                var rounded = Vector256.ShiftRightLogical(x + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(x, 16) & Vector256<uint>.One), 16);
                var nan = Vector256.ShiftRightLogical(x, 16) | Vector256.Create(0x40u);
                return Vector256.ConditionalSelect(Vector256.GreaterThan(x & absMask, inf), nan, rounded);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = FloatToBFloat16Bits(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref s, i)));
    }

    public static float BFloat16BitsToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>One float32 to a bfloat16 bit pattern: round to nearest even on the dropped 16 bits; NaN gets the quiet bit.</summary>
    public static ushort FloatToBFloat16Bits(float f)
    {
        uint x = BitConverter.SingleToUInt32Bits(f);
        if ((x & 0x7FFFFFFF) > 0x7F800000) return (ushort)((x >> 16) | 0x40);
        return (ushort)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
    }

    // ---------------------------------------------------------------- wider types

    /// <summary>Double to float32, round to nearest even (IEEE conversion).</summary>
    public static void DoubleToFloat(ReadOnlySpan<double> src, Span<float> dst)
    {
        CheckLengths(nameof(DoubleToFloat), src.Length, dst.Length);
        for (int i = 0; i < src.Length; i++) dst[i] = (float)src[i];
    }

    public static void FloatToDouble(ReadOnlySpan<float> src, Span<double> dst)
    {
        CheckLengths(nameof(FloatToDouble), src.Length, dst.Length);
        for (int i = 0; i < src.Length; i++) dst[i] = src[i];
    }

    /// <summary>Int64 to float32, round to nearest even (exact below 2^24 in magnitude).</summary>
    public static void Int64ToFloat(ReadOnlySpan<long> src, Span<float> dst)
    {
        CheckLengths(nameof(Int64ToFloat), src.Length, dst.Length);
        for (int i = 0; i < src.Length; i++) dst[i] = src[i];
    }

    /// <summary>Int32 to float32, round to nearest even (exact below 2^24 in magnitude).</summary>
    public static void Int32ToFloat(ReadOnlySpan<int> src, Span<float> dst)
    {
        CheckLengths(nameof(Int32ToFloat), src.Length, dst.Length);
        for (int i = 0; i < src.Length; i++) dst[i] = src[i];
    }

    public static void UInt8ToFloat(ReadOnlySpan<byte> src, Span<float> dst)
    {
        CheckLengths(nameof(UInt8ToFloat), src.Length, dst.Length);
        for (int i = 0; i < src.Length; i++) dst[i] = src[i];
    }

    /// <summary>Bytes as booleans: 0 gives 0, anything else 1.</summary>
    public static void BoolToFloat(ReadOnlySpan<byte> src, Span<float> dst)
    {
        CheckLengths(nameof(BoolToFloat), src.Length, dst.Length);
        for (int i = 0; i < src.Length; i++) dst[i] = src[i] != 0 ? 1f : 0f;
    }

    // ---------------------------------------------------------------- helpers

    private static void CheckLengths(string op, int src, int dst)
    {
        if (src != dst)
            throw new ArgumentException($"DTypeConvert.{op}: source has {src} elements, destination {dst}; expected equal lengths.");
    }

    private delegate void ChunkKernel(ReadOnlySpan<ushort> src, Span<float> dst);

    /// <summary>Runs <paramref name="kernel"/> on the whole span, or on 64K-element chunks across threads when large.</summary>
    private static unsafe void ParallelChunks(ReadOnlySpan<ushort> src, Span<float> dst, ChunkKernel kernel)
    {
        int n = src.Length;
        if (n < 4 * ParallelChunk || Parallelism.NumThreads <= 1) { kernel(src, dst); return; }
        fixed (ushort* ps = src)
        fixed (float* pd = dst)
        {
            ushort* s0 = ps;
            float* d0 = pd;
            int chunks = (n + ParallelChunk - 1) / ParallelChunk;
            Parallelism.For(chunks, 1, (cs, ce) =>
            {
                int start = cs * ParallelChunk, end = Math.Min(n, ce * ParallelChunk);
                kernel(new ReadOnlySpan<ushort>(s0 + start, end - start), new Span<float>(d0 + start, end - start));
            });
        }
    }
}
