using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors.Tests;

[Collection(ThreadCountCollection.Name)]
public class DTypeTests
{
    private static uint Bits(float f) => BitConverter.SingleToUInt32Bits(f);
    private static float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    private static void AssertSameFloat(float expected, float actual, string what)
    {
        if (float.IsNaN(expected))
        {
            Assert.True(float.IsNaN(actual), $"{what}: expected NaN, got {actual}");
            Assert.Equal(float.IsNegative(expected), float.IsNegative(actual));
        }
        else Assert.True(Bits(expected) == Bits(actual), $"{what}: expected {expected:R} ({Bits(expected):X8}), got {actual:R} ({Bits(actual):X8})");
    }

    private static bool IsHalfNaN(int h) => (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    private static bool IsBf16NaN(int b) => (b & 0x7F80) == 0x7F80 && (b & 0x7F) != 0;

    // ---------------------------------------------------------------- half

    [Fact]
    public void AllHalfPatternsRoundTrip()
    {
        var src = new ushort[65536];
        for (int h = 0; h < 65536; h++) src[h] = (ushort)h;
        var fast = new float[65536];
        DTypeConvert.HalfToFloat(src, fast);
        var back = new ushort[65536];
        DTypeConvert.FloatToHalf(fast, back);
        for (int h = 0; h < 65536; h++)
        {
            float f = DTypeConvert.HalfBitsToFloat((ushort)h);
            AssertSameFloat((float)BitConverter.UInt16BitsToHalf((ushort)h), f, $"half {h:X4} -> float");
            AssertSameFloat(f, fast[h], $"vector half {h:X4} -> float");
            ushort scalarBack = DTypeConvert.FloatToHalfBits(f);
            if (IsHalfNaN(h))
            {
                Assert.Equal(h | 0x0200, scalarBack);      // quiet bit set, sign and payload kept
                Assert.True(IsHalfNaN(back[h]) && (back[h] & 0x8000) == (h & 0x8000), $"vector NaN {h:X4} -> {back[h]:X4}");
            }
            else
            {
                Assert.Equal(h, scalarBack);
                Assert.Equal(h, back[h]);
            }
        }
    }

    [Theory]
    [InlineData(1f, 0x3C00)]
    [InlineData(-2f, 0xC000)]
    [InlineData(1.00048828125f, 0x3C00)]     // 1 + 2^-11: tie between 1 and 1 + 2^-10, to even (down)
    [InlineData(1.00146484375f, 0x3C02)]     // 1 + 3 * 2^-11: tie, to even (up)
    [InlineData(1.0004884f, 0x3C01)]         // one float ulp above the tie
    [InlineData(65504f, 0x7BFF)]             // max half
    [InlineData(65519.996f, 0x7BFF)]         // just below the overflow tie
    [InlineData(65520f, 0x7C00)]             // tie between 65504 and 65536 goes to even = infinity
    [InlineData(1e10f, 0x7C00)]
    [InlineData(float.PositiveInfinity, 0x7C00)]
    [InlineData(float.NegativeInfinity, 0xFC00)]
    [InlineData(6.103515625e-05f, 0x0400)]   // 2^-14, smallest normal
    [InlineData(6.0975552e-05f, 0x03FF)]     // 1023 * 2^-24, largest subnormal
    [InlineData(5.9604645e-08f, 0x0001)]     // 2^-24, smallest subnormal
    [InlineData(2.9802322e-08f, 0x0000)]     // 2^-25: tie, to even (zero)
    [InlineData(2.9802326e-08f, 0x0001)]     // just above 2^-25
    [InlineData(8.940697e-08f, 0x0002)]      // 1.5 * 2^-24: tie between 1 and 2, to even
    [InlineData(1.4901161e-07f, 0x0002)]     // 2.5 * 2^-24: tie between 2 and 3, to even
    [InlineData(-0f, 0x8000)]
    [InlineData(1e-30f, 0x0000)]
    public void FloatToHalfKnownCases(float f, int expected)
    {
        Assert.Equal(expected, DTypeConvert.FloatToHalfBits(f));
        var dst = new ushort[1];
        DTypeConvert.FloatToHalf(new[] { f }, dst);
        Assert.Equal(expected, dst[0]);
        Assert.Equal(expected, BitConverter.HalfToUInt16Bits((Half)f));
    }

    [Fact]
    public void FloatToHalfRoundsEveryTieAndNeighbourLikeSystemHalf()
    {
        // For each pair of adjacent finite halves, the float midpoint (exact in float) and its float neighbours.
        var inputs = new List<float>();
        for (int h = 0; h < 0x7C00; h++)
        {
            float a = DTypeConvert.HalfBitsToFloat((ushort)h);
            float b = h + 1 == 0x7C00 ? 65536f : DTypeConvert.HalfBitsToFloat((ushort)(h + 1));
            float mid = (a + b) / 2;
            foreach (float v in new[] { mid, MathF.BitDecrement(mid), MathF.BitIncrement(mid), a })
            {
                inputs.Add(v);
                inputs.Add(-v);
            }
        }
        var rnd = new Random(5);
        for (int i = 0; i < 200_000; i++) inputs.Add(F((uint)rnd.NextInt64(0, 1L << 32)));
        var x = inputs.ToArray();
        var fast = new ushort[x.Length];
        DTypeConvert.FloatToHalf(x, fast);
        for (int i = 0; i < x.Length; i++)
        {
            ushort scalar = DTypeConvert.FloatToHalfBits(x[i]);
            ushort system = BitConverter.HalfToUInt16Bits((Half)x[i]);
            if (float.IsNaN(x[i]))
            {
                Assert.True(IsHalfNaN(scalar) && IsHalfNaN(fast[i]) && IsHalfNaN(system), $"NaN {Bits(x[i]):X8}");
                Assert.Equal(scalar & 0x8000, fast[i] & 0x8000);
                continue;
            }
            Assert.True(scalar == system, $"{x[i]:R} ({Bits(x[i]):X8}): scalar {scalar:X4}, System.Half {system:X4}");
            Assert.True(scalar == fast[i], $"{x[i]:R} ({Bits(x[i]):X8}): scalar {scalar:X4}, vector {fast[i]:X4}");
        }
    }

    // ---------------------------------------------------------------- bfloat16

    [Fact]
    public void AllBFloat16PatternsRoundTrip()
    {
        var src = new ushort[65536];
        for (int b = 0; b < 65536; b++) src[b] = (ushort)b;
        var f = new float[65536];
        DTypeConvert.BFloat16ToFloat(src, f);
        var back = new ushort[65536];
        DTypeConvert.FloatToBFloat16(f, back);
        for (int b = 0; b < 65536; b++)
        {
            Assert.Equal((uint)b << 16, Bits(f[b]));
            Assert.Equal(f[b], DTypeConvert.BFloat16BitsToFloat((ushort)b));
            int expected = IsBf16NaN(b) ? b | 0x40 : b;
            Assert.Equal(expected, back[b]);
            Assert.Equal(expected, DTypeConvert.FloatToBFloat16Bits(f[b]));
        }
    }

    [Theory]
    [InlineData(0x3F800000u, 0x3F80)] // 1
    [InlineData(0x3F808000u, 0x3F80)] // 1 + 2^-8: tie, to even (down)
    [InlineData(0x3F818000u, 0x3F82)] // 1 + 3 * 2^-8: tie, to even (up)
    [InlineData(0x3F808001u, 0x3F81)] // just above the tie
    [InlineData(0x3F807FFFu, 0x3F80)] // just below the tie
    [InlineData(0x7F7FFFFFu, 0x7F80)] // float max rounds to infinity
    [InlineData(0x7F7F7FFFu, 0x7F7F)] // stays at the largest bf16
    [InlineData(0x7F800000u, 0x7F80)] // +inf
    [InlineData(0xFF800000u, 0xFF80)] // -inf
    [InlineData(0x7F800001u, 0x7FC0)] // signalling NaN with a low payload: must not become infinity
    [InlineData(0xFFC00000u, 0xFFC0)] // negative quiet NaN
    [InlineData(0x7FFFFFFFu, 0x7FFF)]
    [InlineData(0x00008000u, 0x0000)] // subnormal tie, to even (zero)
    [InlineData(0x00018000u, 0x0002)] // subnormal tie, to even (up)
    [InlineData(0x80000000u, 0x8000)] // -0
    public void FloatToBFloat16KnownCases(uint floatBits, int expected)
    {
        Assert.Equal(expected, DTypeConvert.FloatToBFloat16Bits(F(floatBits)));
        var x = Enumerable.Repeat(F(floatBits), 37).ToArray(); // through the vector body and the scalar tail
        var dst = new ushort[37];
        DTypeConvert.FloatToBFloat16(x, dst);
        Assert.All(dst, d => Assert.Equal(expected, d));
    }

    [Fact]
    public void VectorBFloat16EncodeMatchesScalarOnRandomBits()
    {
        var rnd = new Random(6);
        foreach (int n in new[] { 1, 15, 16, 17, 100_003 })
        {
            var x = new float[n];
            for (int i = 0; i < n; i++) x[i] = F((uint)rnd.NextInt64(0, 1L << 32));
            var dst = new ushort[n];
            DTypeConvert.FloatToBFloat16(x, dst);
            for (int i = 0; i < n; i++) Assert.Equal(DTypeConvert.FloatToBFloat16Bits(x[i]), dst[i]);
        }
    }

    // ---------------------------------------------------------------- bytes

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    [InlineData(DType.I32)]
    [InlineData(DType.U8)]
    [InlineData(DType.Bool)]
    public void ByteReadersMatchScalarTwin(DType dtype)
    {
        var rnd = new Random((int)dtype);
        int saved = Parallelism.NumThreads;
        try
        {
            foreach (int n in new[] { 0, 1, 7, 33, 300_001 }) // the last goes through the parallel F16/BF16 path
            {
                var bytes = new byte[n * dtype.ElementSize() + 1];
                rnd.NextBytes(bytes);
                var src = bytes.AsSpan(1); // misaligned on purpose
                var scalar = new float[n];
                DTypeConvert.ToFloatScalar(src, dtype, scalar);
                foreach (int threads in new[] { 1, 2 })
                {
                    Parallelism.NumThreads = threads;
                    var fast = new float[n];
                    DTypeConvert.ToFloat(src, dtype, fast);
                    for (int i = 0; i < n; i++) AssertSameFloat(scalar[i], fast[i], $"{dtype}[{i}] threads={threads}");
                }
            }
        }
        finally { Parallelism.NumThreads = saved; }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    [InlineData(DType.I32)]
    [InlineData(DType.U8)]
    [InlineData(DType.Bool)]
    public void ByteWritersMatchScalarTwinAndRoundTrip(DType dtype)
    {
        var rnd = new Random(10 + (int)dtype);
        int n = 1001;
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = dtype.IsFloatingPoint() ? (float)((rnd.NextDouble() - 0.5) * 1000) : rnd.Next(0, 256);
        if (dtype is DType.F16) for (int i = 0; i < n; i++) x[i] = DTypeConvert.HalfBitsToFloat(DTypeConvert.FloatToHalfBits(x[i]));
        if (dtype is DType.BF16) for (int i = 0; i < n; i++) x[i] = DTypeConvert.BFloat16BitsToFloat(DTypeConvert.FloatToBFloat16Bits(x[i]));
        if (dtype is DType.Bool) for (int i = 0; i < n; i++) x[i] = x[i] > 128 ? 1 : 0;
        var fast = new byte[n * dtype.ElementSize()];
        var scalar = new byte[fast.Length];
        DTypeConvert.FromFloat(x, dtype, fast);
        DTypeConvert.FromFloatScalar(x, dtype, scalar);
        Assert.Equal(scalar, fast);
        var back = new float[n];
        DTypeConvert.ToFloat(fast, dtype, back);
        Assert.Equal(x, back); // every value was chosen representable in dtype
    }

    [Fact]
    public void BytesAreLittleEndian()
    {
        byte[] Enc(float v, DType d) { var b = new byte[d.ElementSize()]; DTypeConvert.FromFloat(new[] { v }, d, b); return b; }
        Assert.Equal(new byte[] { 0x00, 0x3C }, Enc(1f, DType.F16));
        Assert.Equal(new byte[] { 0x80, 0x3F }, Enc(1f, DType.BF16));
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F }, Enc(1f, DType.F32));
        Assert.Equal(new byte[] { 0xFE, 0xFF, 0xFF, 0xFF }, Enc(-2f, DType.I32));
        Assert.Equal(new byte[] { 0x02, 0x01, 0, 0, 0, 0, 0, 0 }, Enc(258f, DType.I64));
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0xF0, 0x3F }, Enc(1f, DType.F64));
        var f = new float[1];
        DTypeConvert.ToFloat(new byte[] { 0x00, 0xC0 }, DType.F16, f);
        Assert.Equal(-2f, f[0]);
    }

    [Fact]
    public void IntegerConversions()
    {
        var longs = new long[] { 0, -1, 16_777_217, (1L << 40) + 1, long.MinValue, long.MaxValue };
        var f = new float[longs.Length];
        DTypeConvert.Int64ToFloat(longs, f);
        Assert.Equal(new[] { 0f, -1f, 16_777_216f, 1099511627776f, -9.223372E18f, 9.223372E18f }, f);
        var ints = new[] { 7, -7, int.MaxValue };
        var fi = new float[3];
        DTypeConvert.Int32ToFloat(ints, fi);
        Assert.Equal(new[] { 7f, -7f, 2147483648f }, fi);
        var fb = new float[4];
        DTypeConvert.BoolToFloat(new byte[] { 0, 1, 2, 255 }, fb);
        Assert.Equal(new[] { 0f, 1f, 1f, 1f }, fb);
        DTypeConvert.UInt8ToFloat(new byte[] { 0, 1, 2, 255 }, fb);
        Assert.Equal(new[] { 0f, 1f, 2f, 255f }, fb);

        // Encoding to integers truncates toward zero and saturates; NaN gives 0.
        var src = new[] { -3.7f, 3.7f, 1e10f, -1e10f, float.NaN, 300f, -1f };
        var i32 = new byte[src.Length * 4];
        DTypeConvert.FromFloat(src, DType.I32, i32);
        var back = new float[src.Length];
        DTypeConvert.ToFloat(i32, DType.I32, back);
        Assert.Equal(new[] { -3f, 3f, 2147483648f, -2147483648f, 0f, 300f, -1f }, back);
        var u8 = new byte[src.Length];
        DTypeConvert.FromFloat(src, DType.U8, u8);
        Assert.Equal(new byte[] { 0, 3, 255, 0, 0, 255, 0 }, u8);
        DTypeConvert.FromFloat(src, DType.Bool, u8);
        Assert.Equal(new byte[] { 1, 1, 1, 1, 1, 1, 1 }, u8);
        var d = new double[] { 1e300, 0.1, -1e-50 };
        var fd = new float[3];
        DTypeConvert.DoubleToFloat(d, fd);
        Assert.Equal(new[] { float.PositiveInfinity, 0.1f, -0f }, fd);
    }

    [Fact]
    public void SizesNamesAndErrors()
    {
        Assert.Equal(new[] { 4, 2, 2, 8, 8, 4, 1, 1 }, Enum.GetValues<DType>().Select(t => t.ElementSize()));
        foreach (var t in Enum.GetValues<DType>()) Assert.Equal(t, DTypeInfo.ParseSafetensors(t.SafetensorsName()));
        Assert.Equal(DType.Bool, DTypeInfo.ParseSafetensors("bool"));
        Assert.False(DTypeInfo.TryParseSafetensors("F8_E4M3", out _));
        var ex = Assert.Throws<ArgumentException>(() => DTypeConvert.ToFloat(new byte[5], DType.BF16, new float[2]));
        Assert.Contains("ToFloat", ex.Message);
        Assert.Contains("BF16", ex.Message);
        Assert.Throws<ArgumentException>(() => DTypeConvert.FromFloat(new float[2], DType.F64, new byte[15]));
        Assert.Throws<ArgumentException>(() => DTypeConvert.HalfToFloat(new ushort[3], new float[2]));
    }
}
