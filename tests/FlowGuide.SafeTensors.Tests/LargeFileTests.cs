using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.SafeTensors.Tests;

public sealed class LargeFileTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a header and then extends the file to its full length without writing the data (sparse where the file system allows).</summary>
    private static void WriteSkeleton(string path, string header, long dataLength, ReadOnlySpan<byte> dataPrefix)
    {
        var h = Encoding.UTF8.GetBytes(header);
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)h.Length);
        fs.Write(prefix);
        fs.Write(h);
        fs.Write(dataPrefix);
        fs.SetLength(8 + h.Length + dataLength);
    }

    [Fact]
    public void OpeningA200MBFileAllocatesAlmostNothing()
    {
        const long big = 200L << 20;
        string path = _dir.File("big.safetensors");
        var small = new byte[64];
        for (int i = 0; i < 16; i++) BinaryPrimitives.WriteSingleLittleEndian(small.AsSpan(i * 4), i);
        WriteSkeleton(path,
            "{\"small\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}," +
            $"\"big\":{{\"dtype\":\"BF16\",\"shape\":[1024,{big / 2048}],\"data_offsets\":[64,{64 + big}]}}}}",
            64 + big, small);
        var dst = new float[16];
        try
        {
            // Warm up JIT and type loading so that the measurement sees only per-open costs.
            using (var warm = SafeTensorsFile.Open(path)) warm.LoadInto("small", dst);
            long before = GC.GetAllocatedBytesForCurrentThread();
            using (var f = SafeTensorsFile.Open(path))
            {
                f.LoadInto("small", dst);
                Assert.Equal(big, f.GetInfo("big").ByteLength);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            output.WriteLine($"open + small LoadInto of a {(64 + big) >> 20} MB file allocated {allocated} bytes");
            Assert.True(allocated < 256 * 1024, $"allocated {allocated} bytes");
            Assert.Equal(Enumerable.Range(0, 16).Select(i => (float)i), dst);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadIntoOfA100MBBF16TensorIsFast()
    {
        const int count = 50 << 20; // 50M BF16 elements = 100 MB
        string path = _dir.File("bf16.safetensors");
        var pattern = new byte[1 << 20];
        for (int i = 0; i < pattern.Length / 2; i++) BinaryPrimitives.WriteUInt16LittleEndian(pattern.AsSpan(i * 2), (ushort)(0x3F80 + (i & 0x7F)));
        string header = $"{{\"w\":{{\"dtype\":\"BF16\",\"shape\":[{count}],\"data_offsets\":[0,{2L * count}]}}}}";
        var h = Encoding.UTF8.GetBytes(header);
        using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)h.Length);
            fs.Write(prefix);
            fs.Write(h);
            for (long done = 0; done < 2L * count; done += pattern.Length) fs.Write(pattern);
        }
        var dst = GC.AllocateUninitializedArray<float>(count);
        try
        {
            using var f = SafeTensorsFile.Open(path);
            f.LoadInto("w", dst); // first pass faults the pages in
            var sw = Stopwatch.StartNew();
            f.LoadInto("w", dst);
            sw.Stop();
            double gbps = 2.0 * count / sw.Elapsed.TotalSeconds / 1e9;
            output.WriteLine($"LoadInto 100 MB BF16 -> 200 MB F32 (page cache warm): {sw.Elapsed.TotalMilliseconds:F1} ms, {gbps:F2} GB/s of BF16 read");
            for (int i = 0; i < count; i += 9973)
                Assert.Equal(DTypeConvert.BFloat16BitsToFloat((ushort)(0x3F80 + (i & 0x7F))), dst[i]);
            Assert.True(sw.Elapsed.TotalSeconds < 2, $"took {sw.Elapsed.TotalMilliseconds} ms");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
