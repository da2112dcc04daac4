using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors.Tests;

public sealed class RoundTripTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F64)]
    public void FloatDTypesRoundTripWithDTypeConvertRounding(DType dtype)
    {
        var values = TestFiles.Randn(1, 3 * 5 * 7);
        values[0] = float.PositiveInfinity;
        values[1] = -0f;
        values[2] = 1e-6f;     // subnormal in F16
        values[3] = 70000f;    // overflows F16
        values[4] = 1.00390625f; // a BF16 tie
        var t = Tensor.FromArray(values, 3, 5, 7);
        string path = _dir.File($"float-{dtype}.safetensors");
        SafeTensorsWriter.Write(path, [("w", t)], storeAs: dtype);

        // Expected: encode with DTypeConvert's scalar twin, decode likewise.
        var encoded = new byte[values.Length * dtype.ElementSize()];
        DTypeConvert.FromFloatScalar(values, dtype, encoded);
        var expected = new float[values.Length];
        DTypeConvert.ToFloatScalar(encoded, dtype, expected);

        using var f = SafeTensorsFile.Open(path);
        var info = f.GetInfo("w");
        Assert.Equal(dtype, info.DType);
        Assert.Equal(new Shape(3, 5, 7), info.Shape);
        Assert.Equal(encoded.Length, info.ByteLength);
        Assert.Equal(encoded, f.LoadBytes("w"));
        using var loaded = f.Load("w");
        Assert.Equal(new Shape(3, 5, 7), loaded.Shape);
        Assert.Equal(expected, loaded.ToArray());
        var into = new float[values.Length];
        f.LoadInto("w", into);
        Assert.Equal(expected, into);
        if (dtype is DType.F32 or DType.F64) Assert.Equal(values, into);
        if (dtype == DType.F64) Assert.Equal(values.Select(v => (double)v), f.LoadFloat64("w"));
    }

    [Fact]
    public void IntegerAndBoolDTypesRoundTripExactly()
    {
        long[] i64 = [long.MinValue, -1, 0, 1, long.MaxValue, 1L << 40];
        int[] i32 = [int.MinValue, -7, 0, 7, int.MaxValue, 12345];
        byte[] u8 = [0, 1, 127, 128, 255, 42];
        bool[] b = [true, false, false, true, true, false];
        string path = _dir.File("ints.safetensors");
        SafeTensorsWriter.Write(path, [
            SafeTensorsEntry.FromInt64("i64", i64, new Shape(2, 3)),
            SafeTensorsEntry.FromInt32("i32", i32, new Shape(6)),
            SafeTensorsEntry.FromUInt8("u8", u8, new Shape(3, 2)),
            SafeTensorsEntry.FromBool("b", b, new Shape(1, 6)),
        ]);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(i64, f.LoadInt64("i64"));
        Assert.Equal(i32, f.LoadInt32("i32"));
        Assert.Equal(u8, f.LoadBytes("u8"));
        Assert.Equal(b, f.LoadBool("b"));
        Assert.Equal(DType.Bool, f.GetInfo("b").DType);
        // Float views of the same data.
        Assert.Equal(i32.Select(v => (float)v), f.Load("i32").ToArray());
        Assert.Equal(u8.Select(v => (float)v), f.Load("u8").ToArray());
        Assert.Equal(b.Select(v => v ? 1f : 0f), f.Load("b").ToArray());
        Assert.Equal(i64.Select(v => (float)v), f.Load("i64").ToArray());
        // Raw loads check the dtype.
        var e = Assert.Throws<ArgumentException>(() => f.LoadInt64("i32"));
        Assert.Contains("is I32, not I64", e.Message);
    }

    [Fact]
    public void FloatTensorsCanBeStoredAsIntegersWithTruncation()
    {
        string path = _dir.File("trunc.safetensors");
        SafeTensorsWriter.Write(path, [SafeTensorsEntry.FromFloats("x", new float[] { 1.9f, -2.7f, 3e10f, float.NaN }, new Shape(4), DType.I32)]);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new[] { 1, -2, int.MaxValue, 0 }, f.LoadInt32("x"));
    }

    [Fact]
    public void EmptyAndZeroRankTensorsRoundTrip()
    {
        string path = _dir.File("shapes.safetensors");
        SafeTensorsWriter.Write(path, [
            SafeTensorsEntry.FromTensor("scalar", Tensor.Scalar(2.5f), DType.BF16),
            SafeTensorsEntry.FromFloats("empty", ReadOnlyMemory<float>.Empty, new Shape(0, 4)),
            SafeTensorsEntry.FromFloats("empty2", ReadOnlyMemory<float>.Empty, new Shape(3, 0), DType.F16),
            SafeTensorsEntry.FromInt64("empty_i64", [], new Shape(0)),
            SafeTensorsEntry.FromInt64("step", [7], Shape.Scalar),
        ]);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(5, f.Tensors.Count);
        var scalar = f.Load("scalar");
        Assert.Equal(0, scalar.Rank);
        Assert.Equal(2.5f, scalar.Item());
        Assert.Equal(2, f.GetInfo("scalar").ByteLength);
        var empty = f.Load("empty");
        Assert.Equal(new Shape(0, 4), empty.Shape);
        Assert.Equal(0, empty.Numel);
        f.LoadInto("empty2", Span<float>.Empty);
        Assert.Empty(f.LoadInt64("empty_i64"));
        Assert.Equal(new long[] { 7 }, f.LoadInt64("step"));
        Assert.Equal(0, f.GetInfo("step").Shape.Rank);
    }

    [Fact]
    public void OnlyMetadataAndNoTensorsIsValid()
    {
        string path = _dir.File("meta-only.safetensors");
        SafeTensorsWriter.Write(path, Array.Empty<SafeTensorsEntry>(), new Dictionary<string, string> { ["a"] = "b" });
        using var f = SafeTensorsFile.Open(path);
        Assert.Empty(f.Tensors);
        Assert.Equal("b", f.Metadata["a"]);
        Assert.Equal(f.DataStart, f.FileLength);
    }

    [Fact]
    public void MetadataRoundTripsWithUnicodeAndEscapes()
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["note"] = "quote \" backslash \\ newline \n tab \t ünïcødé 🎉 <html>&",
            ["empty"] = "",
        };
        string path = _dir.File("meta.safetensors");
        SafeTensorsWriter.Write(path, [("blocks.0.attn+ffn/ü", Tensor.Ones(2))], meta);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(meta.OrderBy(p => p.Key), f.Metadata.OrderBy(p => p.Key));
        Assert.True(f.Contains("blocks.0.attn+ffn/ü"));
    }

    [Fact]
    public void HeaderIsSortedPaddedAndMetadataFirstWithDataInTheSameOrder()
    {
        string path = _dir.File("layout.safetensors");
        SafeTensorsWriter.Write(path, [("b", Tensor.Full(2f, 3)), ("a", Tensor.Full(1f, 2)), ("C", Tensor.Full(3f, 1))],
            new Dictionary<string, string> { ["z"] = "1", ["m"] = "2" });
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{\"m\":\"2\",\"z\":\"1\"},\"C\":", header);
        Assert.True(header.IndexOf("\"C\"") < header.IndexOf("\"a\"") && header.IndexOf("\"a\"") < header.IndexOf("\"b\""));
        Assert.Equal(header.TrimEnd(' ').Length, header.TrimEnd().Length);
        Assert.EndsWith("}", header.TrimEnd(' '));
        // Data tightly packed in the same (ordinal) order: C (1 float), a (2 floats), b (3 floats).
        var data = new float[6];
        Buffer.BlockCopy(bytes, 8 + (int)n, data, 0, 24);
        Assert.Equal(new[] { 3f, 1f, 1f, 2f, 2f, 2f }, data);
        Assert.Equal(8 + (int)n + 24, bytes.Length);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(["C", "a", "b"], f.Names);
    }

    [Fact]
    public void HandMadeBytesAreReadCorrectly()
    {
        // Keys out of order, data out of header order, unknown field ignored, trailing spaces, F16 and BF16 by bit pattern.
        string header = "{\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}," +
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":[1,{\"x\":null}]}," +
                        "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[12,14]}," +
                        "\"__metadata__\":{\"k\":\"v\"}}   ";
        var data = new byte[14];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2f);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(8), 0x3C00);  // F16 1.0
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(10), 0xC000); // F16 -2.0
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(12), 0x4049); // BF16 3.140625
        string path = _dir.File("hand.safetensors");
        File.WriteAllBytes(path, TestFiles.Build(header, data));
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(["a", "b", "c"], f.Names); // data order
        Assert.Equal(new[] { 1.5f, -2f }, f.Load("a").ToArray());
        Assert.Equal(new[] { 1f, -2f }, f.Load("b").ToArray());
        Assert.Equal(3.140625f, f.Load("c").Item());
        Assert.Equal("v", f.Metadata["k"]);
        var c = f.GetInfo("c");
        Assert.Equal(8 + Encoding.UTF8.GetByteCount(header) + 12, c.FileOffset);
        Assert.Equal(f.FilePath, c.FilePath);
    }

    [Fact]
    public void RawSpanLoadIntoAndErrorsForUserMistakes()
    {
        string path = _dir.File("raw.safetensors");
        SafeTensorsWriter.Write(path, [("x", Tensor.Arange(6).Reshape(2, 3))]);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(24, f.GetRawSpan("x").Length);
        var e = Assert.Throws<ArgumentException>(() => f.LoadInto("x", new float[5]));
        Assert.Contains("6 elements", e.Message);
        var k = Assert.Throws<KeyNotFoundException>(() => f.Load("y"));
        Assert.Contains("\"y\"", k.Message);
        Assert.Contains(path, k.Message);
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.Load("x"));
    }

    [Fact]
    public void WriterValidatesNames()
    {
        string path = _dir.File("names.safetensors");
        var t = Tensor.Ones(1);
        Assert.Contains("non-empty", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("", t)])).Message);
        Assert.Contains("duplicate", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("a", t), ("a", t)])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("__metadata__", t)])).Message);
        Assert.Contains("lone surrogate", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("a\uD800", t)])).Message);
        Assert.Contains("do not match", Assert.Throws<ArgumentException>(() => SafeTensorsEntry.FromBytes("a", DType.F16, new Shape(3), new byte[5])).Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void FailedWriteLeavesTheOldFileIntactAndNoTempFile()
    {
        string path = _dir.File("atomic.safetensors");
        SafeTensorsWriter.Write(path, [("x", Tensor.Ones(4))]);
        var before = File.ReadAllBytes(path);
        var throwing = new ThrowingMemory(1000).Memory;
        Assert.Throws<InvalidOperationException>(() =>
            SafeTensorsWriter.Write(path, [SafeTensorsEntry.FromTensor("a", Tensor.Ones(300_000)), SafeTensorsEntry.FromFloats("b", throwing, new Shape(1000))]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
    }

    /// <summary>Memory whose span cannot be taken: makes a write fail after the file has been started.</summary>
    private sealed class ThrowingMemory(int length) : MemoryManager<float>
    {
        public override Span<float> GetSpan() => throw new InvalidOperationException("source unavailable");
        public override Memory<float> Memory => CreateMemory(length);
        public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();
        public override void Unpin() { }
        protected override void Dispose(bool disposing) { }
    }

    [Fact]
    public void OverwritingAnOpenFileIsSafeForTheOpenReader()
    {
        string path = _dir.File("overwrite.safetensors");
        SafeTensorsWriter.Write(path, [("x", Tensor.Full(1f, 8))]);
        using var f = SafeTensorsFile.Open(path);
        SafeTensorsWriter.Write(path, [("x", Tensor.Full(2f, 8))]);
        Assert.All(f.Load("x").ToArray(), v => Assert.Equal(1f, v)); // old inode still mapped
        using var g = SafeTensorsFile.Open(path);
        Assert.All(g.Load("x").ToArray(), v => Assert.Equal(2f, v));
    }
}
