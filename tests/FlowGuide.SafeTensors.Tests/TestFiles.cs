using System.Buffers.Binary;
using System.Text;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors.Tests;

/// <summary>A temporary directory per test class instance, deleted on dispose, plus byte-level file builders.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fg-safetensors-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

internal static class TestFiles
{
    /// <summary>8-byte little-endian length, the header text as UTF-8 (not padded), then the data.</summary>
    public static byte[] Build(string header, byte[]? data = null, ulong? lengthOverride = null) =>
        BuildRaw(Encoding.UTF8.GetBytes(header), data, lengthOverride);

    public static byte[] BuildRaw(byte[] header, byte[]? data = null, ulong? lengthOverride = null)
    {
        data ??= [];
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public static float[] Randn(int seed, int n)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * 3f;
        return v;
    }

    /// <summary>Independent decode of a tensor's bytes (the scalar twin), read with plain file IO rather than the mapping.</summary>
    public static float[] DecodeWithFileIo(string path, TensorInfo info)
    {
        var all = System.IO.File.ReadAllBytes(path);
        var dst = new float[info.ElementCount];
        DTypeConvert.ToFloatScalar(all.AsSpan((int)info.FileOffset, (int)info.ByteLength), info.DType, dst);
        return dst;
    }
}
