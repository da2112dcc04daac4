using System.Buffers.Binary;
using FlowGuide.Media;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Flow;

public class FlowIOTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowio").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static byte[] Header(float tag, int w, int h)
    {
        var b = new byte[12];
        BinaryPrimitives.WriteSingleLittleEndian(b, tag);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), w);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), h);
        return b;
    }

    [Fact]
    public void RoundTripKeepsValuesAndUnknowns()
    {
        var rng = new Random(3);
        int h = 5, w = 7;
        var d = new float[2 * h * w];
        for (int i = 0; i < d.Length; i++) d[i] = (float)(rng.NextDouble() * 40 - 20);
        var flow = Tensor.FromArray(d, 1, 2, h, w);
        var valid = Tensor.Ones(1, 1, h, w);
        valid.Span[8] = 0;
        var path = PathOf("a.flo");
        FlowIO.WriteFlo(path, flow, valid);
        Assert.Equal(12 + 8 * h * w, new FileInfo(path).Length);
        var back = FlowIO.ReadFlo(path);
        Assert.Equal(flow.Shape, back.Shape);
        var mask = FlowMetrics.ValidMask(back);
        for (int i = 0; i < h * w; i++)
        {
            if (i == 8)
            {
                Assert.True(back.Span[i] > 1e9f && back.Span[h * w + i] > 1e9f);
                Assert.Equal(0f, mask.Span[i]);
                continue;
            }
            Assert.Equal(d[i], back.Span[i]);
            Assert.Equal(d[h * w + i], back.Span[h * w + i]);
            Assert.Equal(1f, mask.Span[i]);
        }
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));
    }

    [Fact]
    public void ReadsTheSharedMmflowFile()
    {
        var f = FlowIO.ReadFlo(Path.Combine(FlowTestUtil.MmflowDir(), "0000000-flow_01.flo"));
        Assert.Equal(new Shape(1, 2, 50, 50), f.Shape);
        int plane = 2500;
        // Values read with numpy from the same file.
        Assert.Equal(0.28125f, f.Span[10 * 50 + 20]);
        Assert.Equal(-0.1875f, f.Span[plane + 10 * 50 + 20]);
        Assert.Equal(-18.84375f, f.Span[49 * 50 + 49]);
        Assert.Equal(13.5f, f.Span[plane + 49 * 50 + 49]);
        double sum = 0;
        foreach (var v in f.Span) sum += v;
        Assert.Equal(125.625, sum, 3);
    }

    [Fact]
    public void WrongMagicIsRejected()
    {
        var path = PathOf("bad.flo");
        File.WriteAllBytes(path, Header(123.5f, 1, 1).Concat(new byte[8]).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => FlowIO.ReadFlo(path));
        Assert.Contains("202021.25", e.Message);
    }

    [Fact]
    public void TruncatedHeaderIsRejected()
    {
        var path = PathOf("short.flo");
        File.WriteAllBytes(path, Header(FlowIO.FloTag, 2, 2)[..7]);
        var e = Assert.Throws<InvalidDataException>(() => FlowIO.ReadFlo(path));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void TruncatedDataIsRejected()
    {
        var path = PathOf("trunc.flo");
        File.WriteAllBytes(path, Header(FlowIO.FloTag, 4, 3).Concat(new byte[8 * 12 - 1]).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => FlowIO.ReadFlo(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("4x3", e.Message);
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        var path = PathOf("long.flo");
        File.WriteAllBytes(path, Header(FlowIO.FloTag, 1, 1).Concat(new byte[12]).ToArray());
        Assert.Throws<InvalidDataException>(() => FlowIO.ReadFlo(path));
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(5, -1)]
    [InlineData(int.MaxValue, int.MaxValue)]
    [InlineData(70000, 1)]
    public void AbsurdSizesAreRejectedBeforeAllocating(int w, int h)
    {
        var path = PathOf("size.flo");
        File.WriteAllBytes(path, Header(FlowIO.FloTag, w, h).Concat(new byte[16]).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => FlowIO.ReadFlo(path));
        Assert.Contains($"{w}x{h}", e.Message);
    }

    [Fact]
    public void LargeDeclaredSizeWithSmallFileIsTruncationNotAllocation()
    {
        // 60000 x 60000 is within MaxSide but would need 28.8 GB: the file-length check must fire first.
        var path = PathOf("big.flo");
        File.WriteAllBytes(path, Header(FlowIO.FloTag, 60000, 60000).Concat(new byte[64]).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => FlowIO.ReadFlo(path));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void NonSeekableStreamTruncationIsReported()
    {
        var bytes = Header(FlowIO.FloTag, 2, 2).Concat(new byte[10]).ToArray();
        using var s = new NonSeekable(bytes);
        Assert.Throws<InvalidDataException>(() => FlowIO.ReadFlo(s));
    }

    [Fact]
    public void WriteRejectsBadShapes()
    {
        Assert.Throws<ArgumentException>(() => FlowIO.WriteFlo(PathOf("x.flo"), Tensor.Zeros(1, 3, 4, 4)));
        Assert.Throws<ArgumentException>(() => FlowIO.WriteFlo(PathOf("x.flo"), Tensor.Zeros(2, 2, 4, 4)));
        Assert.Throws<ArgumentException>(() => FlowIO.WriteFlo(PathOf("x.flo"), Tensor.Zeros(1, 2, 4, 4), Tensor.Ones(1, 1, 4, 5)));
    }

    [Fact]
    public void KittiPngRoundTripAndDecoding()
    {
        int h = 3, w = 4;
        var flow = Tensor.Zeros(1, 2, h, w);
        flow.Span[0] = 1.5f; flow.Span[12] = -2.25f;   // pixel 0: (1.5, -2.25)
        flow.Span[5] = -100f; flow.Span[17] = 0.015625f; // pixel 5
        var valid = Tensor.Ones(1, 1, h, w);
        valid.Span[7] = 0;
        var path = PathOf("kitti.png");
        FlowIO.WriteKittiFlow(path, flow, valid);
        var png = PngReader.Read(path);
        Assert.Equal(16, png.BitDepth);
        Assert.Equal(32768 + 96, png[0, 0, 0]);   // u = 1.5 -> R = 2^15 + 1.5 * 64
        Assert.Equal(32768 - 144, png[0, 0, 1]);  // v = -2.25
        Assert.Equal(0, png[3, 1, 2]);            // pixel 7 invalid
        var (f, m) = FlowIO.ReadKittiFlow(path);
        Assert.Equal(1.5f, f.Span[0]); Assert.Equal(-2.25f, f.Span[12]);
        Assert.Equal(-100f, f.Span[5]); Assert.Equal(0.015625f, f.Span[17]);
        Assert.Equal(0f, m.Span[7]); Assert.Equal(1f, m.Span[6]);
        Assert.Equal(0f, f.Span[7]);
    }

    [Fact]
    public void KittiRejects8BitPng()
    {
        var path = PathOf("rgb8.png");
        PngWriter.WriteRgb8(path, 2, 2, new byte[12]);
        var e = Assert.Throws<InvalidDataException>(() => FlowIO.ReadKittiFlow(path));
        Assert.Contains("16-bit", e.Message);
    }

    [Fact]
    public void UndecodableImageGivesMediaException()
    {
        var path = PathOf("junk.png");
        File.WriteAllBytes(path, new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 1, 2, 3 });
        Assert.Throws<MediaException>(() => FlowIO.ReadKittiFlow(path));
        Assert.Throws<MediaException>(() => FlowFrames.Read(path));
    }

    [Fact]
    public void FlowPngIsWritten()
    {
        var path = PathOf("vis.png");
        FlowIO.WriteFlowPng(path, FlowTestUtil.Affine(6, 8, 0.1, 0, 0, 0.1, 1, 0));
        var png = PngReader.Read(path);
        Assert.Equal((8, 6, 3), (png.Width, png.Height, png.Channels));
    }

    private sealed class NonSeekable(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
    }
}
