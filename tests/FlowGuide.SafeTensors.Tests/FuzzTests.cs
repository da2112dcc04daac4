using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using FlowGuide.Tensors;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;

namespace FlowGuide.SafeTensors.Tests;

/// <summary>
/// Property tests: random corruptions of a valid multi-tensor file either load every tensor exactly as an independent
/// decoder reads the bytes, or throw <see cref="SafeTensorsFormatException"/> — never anything else.
/// </summary>
public sealed class FuzzTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>One corruption step. Kind picks the operation; A, B and C parameterise it (positions are taken modulo the relevant length).</summary>
    public sealed record Mutation(int Kind, int A, int B, long C)
    {
        public override string ToString() => $"M({Kind}, {A}, {B}, {C})";
    }

    private static readonly string[] NumberReplacements =
    [
        "0", "1", "2", "3", "4", "8", "16", "-1", "-0", "1.5", "1e2", "4.0", "00", "2147483647", "2147483648", "4294967296",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "99999999999999999999999", "", "[]", "null", "\"3\"", "true",
    ];

    private static readonly string[] DTypeReplacements = ["F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "I8", "bf16", "", "F32 ", "\\u0046\\u0033\\u0032"];

    private static readonly byte[] InsertChars = Encoding.ASCII.GetBytes("{}[]\",:0 -a1.e\\");

    private static Gen<Mutation> MutationGen() =>
        from kind in Gen.Choose(0, 13)
        from a in Gen.Choose(0, 1 << 30)
        from b in Gen.Choose(0, 1 << 30)
        from hi in Gen.Choose(0, 1 << 30)
        from lo in Gen.Choose(0, 1 << 30)
        select new Mutation(kind, a, b, ((long)hi << 30) | (uint)lo);

    private static Gen<Mutation[]> MutationsGen() =>
        from n in Gen.Choose(1, 3)
        from ms in Gen.ArrayOf(MutationGen(), n)
        select ms;

    private static Config Deterministic(int maxTest) =>
        Config.QuickThrowOnFailure.WithMaxTest(maxTest).WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(20240611UL), FSharpOption<int>.None)));

    private static byte[] BaseFile(string path)
    {
        var entries = new List<SafeTensorsEntry>
        {
            SafeTensorsEntry.FromTensor("blocks.0.weight", Tensor.FromArray(TestFiles.Randn(1, 12), 3, 4), DType.F32),
            SafeTensorsEntry.FromTensor("blocks.0.bias", Tensor.FromArray(TestFiles.Randn(2, 4), 4), DType.BF16),
            SafeTensorsEntry.FromTensor("norm", Tensor.FromArray(TestFiles.Randn(3, 6), 2, 3), DType.F16),
            SafeTensorsEntry.FromFloats("f64", TestFiles.Randn(4, 2), new Shape(2), DType.F64),
            SafeTensorsEntry.FromInt64("step", [123456789], Shape.Scalar),
            SafeTensorsEntry.FromInt32("ids", [1, -2, 3], new Shape(3)),
            SafeTensorsEntry.FromUInt8("u8", new byte[] { 0, 255 }, new Shape(2, 1)),
            SafeTensorsEntry.FromBool("mask", [true, false, true], new Shape(3)),
            SafeTensorsEntry.FromFloats("empty", ReadOnlyMemory<float>.Empty, new Shape(0, 5), DType.F16),
        };
        SafeTensorsWriter.Write(path, entries, new Dictionary<string, string> { ["format"] = "pt", ["k"] = "v" });
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void RandomCorruptionsLoadCorrectlyOrThrowFormatException()
    {
        var original = BaseFile(_dir.File("base.safetensors"));
        string path = _dir.File("fuzz.safetensors");
        int accepted = 0, rejected = 0;
        var property = Prop.ForAll(MutationsGen().ToArbitrary(), (Mutation[] mutations) =>
        {
            var bytes = original;
            foreach (var m in mutations) bytes = Apply(bytes, m);
            File.WriteAllBytes(path, bytes);
            SafeTensorsFile f;
            try
            {
                f = SafeTensorsFile.Open(path);
            }
            catch (SafeTensorsFormatException e)
            {
                Assert.Contains(path, e.Message);
                rejected++;
                return;
            }
            using (f)
            {
                VerifyAccepted(f, path, bytes, original);
            }
            accepted++;
        });
        Check.One(Deterministic(3000), property);
        // The mix must exercise both outcomes substantially.
        Assert.True(accepted > 100, $"only {accepted} corrupted files were accepted");
        Assert.True(rejected > 1000, $"only {rejected} corrupted files were rejected");
    }

    /// <summary>An accepted file must be internally consistent and load exactly what an independent decoder reads.</summary>
    private static void VerifyAccepted(SafeTensorsFile f, string path, byte[] bytes, byte[] original)
    {
        Assert.Equal(bytes.Length, f.FileLength);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal((long)n, f.HeaderLength);
        using (JsonDocument.Parse(bytes.AsMemory(8, (int)n))) { } // accepted headers are valid JSON
        long cursor = f.DataStart;
        foreach (var t in f.Tensors)
        {
            Assert.Equal(cursor, t.FileOffset);
            cursor += t.ByteLength;
            Assert.Equal(t.ElementCount * t.DType.ElementSize(), t.ByteLength);
            var raw = bytes.AsSpan((int)t.FileOffset, (int)t.ByteLength);
            Assert.True(raw.SequenceEqual(f.LoadBytes(t.Name)));
            var expected = new float[t.ElementCount];
            DTypeConvert.ToFloatScalar(raw, t.DType, expected);
            using var loaded = f.Load(t.Name);
            Assert.Equal(t.Shape, loaded.Shape);
            var actual = loaded.ToArray();
            for (int i = 0; i < expected.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]) ||
                            float.IsNaN(expected[i]) && float.IsNaN(actual[i]), $"{t.Name}[{i}]: {actual[i]} vs {expected[i]}");
            if (t.DType == DType.I64) Assert.Equal(t.ElementCount, f.LoadInt64(t.Name).Length);
            if (t.DType == DType.I32) Assert.Equal(t.ElementCount, f.LoadInt32(t.Name).Length);
            if (t.DType == DType.Bool) Assert.Equal(t.ElementCount, f.LoadBool(t.Name).Length);
        }
        Assert.Equal(f.FileLength, cursor);
        if (bytes.AsSpan().SequenceEqual(original)) Assert.Equal(9, f.Tensors.Count);
    }

    /// <summary>Applies one corruption. Header edits re-encode the length prefix so that they reach the JSON parser.</summary>
    private static byte[] Apply(byte[] bytes, Mutation m)
    {
        int len = bytes.Length;
        long n = len >= 8 ? (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(bytes), (ulong)long.MaxValue) : -1;
        bool headerOk = n >= 0 && n <= len - 8;
        switch (m.Kind)
        {
            case 0 when headerOk && n > 0: // flip bits in a header byte
            {
                var c = (byte[])bytes.Clone();
                c[8 + m.A % n] ^= (byte)(m.B % 255 + 1);
                return c;
            }
            case 1 when len >= 8: // header length field: nearby or random
            {
                var c = (byte[])bytes.Clone();
                ulong v = (m.B % 3) switch
                {
                    0 => (ulong)Math.Max(0, n + (m.A % 33) - 16),
                    1 => (ulong)m.C,
                    _ => (ulong)m.C << (m.A % 40),
                };
                BinaryPrimitives.WriteUInt64LittleEndian(c, v);
                return c;
            }
            case 2: // truncate
                return bytes[..(m.A % (len + 1))];
            case 3: // append bytes
            {
                var extra = new byte[1 + m.A % 16];
                new System.Random(m.B).NextBytes(extra);
                return [.. bytes, .. extra];
            }
            case 4 when headerOk: // replace a number in the header
                return EditHeader(bytes, n, h => ReplaceMatch(h, m, IsDigitRun, NumberReplacements[m.B % NumberReplacements.Length], m.C));
            case 5 when headerOk: // replace a dtype
                return EditHeader(bytes, n, h => ReplaceDType(h, m));
            case 6 when headerOk && n > 0: // delete a header byte
                return EditHeader(bytes, n, h => h.Remove(m.A % h.Length, 1));
            case 7 when headerOk: // insert a structural character
                return EditHeader(bytes, n, h => h.Insert(m.A % (h.Length + 1), ((char)InsertChars[m.B % InsertChars.Length]).ToString()));
            case 8 when headerOk && n > 1: // duplicate a slice of the header (copies keys/entries)
                return EditHeader(bytes, n, h =>
                {
                    int start = m.A % h.Length, count = 1 + m.B % Math.Min(80, h.Length - start);
                    return h.Insert(Math.Min(h.Length, start + count), h.Substring(start, count));
                });
            case 9 when headerOk && len > 8 + n: // flip bits in the data section
            {
                var c = (byte[])bytes.Clone();
                c[8 + n + m.A % (len - 8 - n)] ^= (byte)(m.B % 255 + 1);
                return c;
            }
            case 10 when headerOk: // shift one number by a small amount (keeps it a valid integer)
                return EditHeader(bytes, n, h => ReplaceMatch(h, m, IsDigitRun, null, m.C));
            case 11 when headerOk: // swap two header bytes
            {
                var c = (byte[])bytes.Clone();
                if (n < 2) return c;
                long i = 8 + m.A % n, j = 8 + m.B % n;
                (c[i], c[j]) = (c[j], c[i]);
                return c;
            }
            case 12 when headerOk: // drop a data byte (header intact: offsets no longer match)
                return len > 8 + n ? [.. bytes[..(int)(8 + n)], .. bytes[(int)(9 + n)..]] : bytes;
            case 13 when headerOk: // replace a shape with a random one
                return EditHeader(bytes, n, h => ReplaceShape(h, m));
            default:
                return bytes;
        }
    }

    /// <summary>Rewrites the header text, keeping the data, with a correct length prefix.</summary>
    private static byte[] EditHeader(byte[] bytes, long n, Func<string, string> edit)
    {
        string header = Encoding.Latin1.GetString(bytes, 8, (int)n); // Latin-1 round-trips every byte
        if (header.Length == 0) return bytes;
        var h = Encoding.Latin1.GetBytes(edit(header));
        var result = new byte[8 + h.Length + (bytes.Length - 8 - n)];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)h.Length);
        h.CopyTo(result, 8);
        bytes.AsSpan((int)(8 + n)).CopyTo(result.AsSpan(8 + h.Length));
        return result;
    }

    private static bool IsDigitRun(string h, int i) => char.IsAsciiDigit(h[i]) && (i == 0 || !char.IsAsciiDigit(h[i - 1]));

    /// <summary>Replaces the (A mod count)-th digit run with <paramref name="replacement"/>, or with its value shifted by a small amount when null.</summary>
    private static string ReplaceMatch(string h, Mutation m, Func<string, int, bool> isStart, string? replacement, long c)
    {
        var starts = Enumerable.Range(0, h.Length).Where(i => isStart(h, i)).ToList();
        if (starts.Count == 0) return h;
        int s = starts[m.A % starts.Count], e = s;
        while (e < h.Length && char.IsAsciiDigit(h[e])) e++;
        if (replacement is null)
        {
            long value = long.TryParse(h.AsSpan(s, e - s), out var v) ? v : 0;
            replacement = Math.Max(0, value + (c % 19) - 9).ToString();
        }
        return h[..s] + replacement + h[e..];
    }

    private static string ReplaceDType(string h, Mutation m)
    {
        const string key = "\"dtype\":\"";
        var starts = new List<int>();
        for (int i = h.IndexOf(key, StringComparison.Ordinal); i >= 0; i = h.IndexOf(key, i + 1, StringComparison.Ordinal)) starts.Add(i + key.Length);
        if (starts.Count == 0) return h;
        int s = starts[m.A % starts.Count], e = h.IndexOf('"', s);
        if (e < 0) return h;
        return h[..s] + DTypeReplacements[m.B % DTypeReplacements.Length] + h[e..];
    }

    private static string ReplaceShape(string h, Mutation m)
    {
        const string key = "\"shape\":[";
        var starts = new List<int>();
        for (int i = h.IndexOf(key, StringComparison.Ordinal); i >= 0; i = h.IndexOf(key, i + 1, StringComparison.Ordinal)) starts.Add(i + key.Length);
        if (starts.Count == 0) return h;
        int s = starts[m.A % starts.Count], e = h.IndexOf(']', s);
        if (e < 0) return h;
        var rng = new System.Random(m.B);
        var dims = Enumerable.Range(0, rng.Next(0, 4)).Select(_ => rng.Next(0, 7).ToString());
        return h[..s] + string.Join(",", dims) + h[e..];
    }

    // ---------------------------------------------------------------- valid random files

    public sealed record Spec(string Name, DType DType, int[] Shape, int Seed);

    private static Gen<Spec> SpecGen() =>
        from nameLen in Gen.Choose(1, 12)
        from chars in Gen.ArrayOf(Gen.Elements("abcXYZ09._-/ü +\"\\é".ToCharArray()), nameLen)
        from dtype in Gen.Elements(DType.F32, DType.F16, DType.BF16, DType.F64, DType.I64, DType.I32, DType.U8, DType.Bool)
        from rank in Gen.Choose(0, 4)
        from dims in Gen.ArrayOf(Gen.Frequency((1, Gen.Constant(0)), (6, Gen.Choose(1, 5))), rank)
        from seed in Gen.Choose(0, 1000)
        select new Spec(new string(chars), dtype, dims, seed);

    [Fact]
    public void RandomValidFilesRoundTrip()
    {
        string path = _dir.File("valid.safetensors");
        var gen = Gen.ArrayOf(SpecGen()).Select(specs => specs.DistinctBy(s => s.Name).ToArray());
        var property = Prop.ForAll(gen.ToArbitrary(), (Spec[] specs) =>
        {
            var expected = new Dictionary<string, byte[]>();
            var entries = new List<SafeTensorsEntry>();
            foreach (var s in specs)
            {
                var shape = new Shape(s.Shape);
                var raw = new byte[(long)shape.Numel * s.DType.ElementSize()];
                new System.Random(s.Seed).NextBytes(raw);
                if (s.DType == DType.Bool) for (int i = 0; i < raw.Length; i++) raw[i] &= 1;
                entries.Add(SafeTensorsEntry.FromBytes(s.Name, s.DType, shape, raw));
                expected[s.Name] = raw;
            }
            SafeTensorsWriter.Write(path, entries);
            using var f = SafeTensorsFile.Open(path);
            Assert.Equal(specs.Length, f.Tensors.Count);
            Assert.Equal(specs.Select(s => s.Name).OrderBy(x => x, StringComparer.Ordinal), f.Names);
            foreach (var s in specs)
            {
                var info = f.GetInfo(s.Name);
                Assert.Equal(s.DType, info.DType);
                Assert.Equal(new Shape(s.Shape), info.Shape);
                Assert.Equal(expected[s.Name], f.LoadBytes(s.Name));
                var floats = new float[info.ElementCount];
                f.LoadInto(s.Name, floats);
                var reference = new float[info.ElementCount];
                DTypeConvert.ToFloatScalar(expected[s.Name], s.DType, reference);
                for (int i = 0; i < floats.Length; i++)
                    Assert.True(floats[i].Equals(reference[i]) || float.IsNaN(floats[i]) && float.IsNaN(reference[i]));
            }
        });
        Check.One(Deterministic(300), property);
    }
}
