using Xunit.Abstractions;

namespace FlowGuide.Media.Tests;

public class GifTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(2, 10)] [InlineData(2, 20000)] [InlineData(4, 3000)] [InlineData(8, 1)] [InlineData(8, 100000)]
    public void LzwRoundTripsIncludingTableResets(int minCode, int length)
    {
        var rng = new Random(minCode * 7 + length);
        // Mix runs and noise so that the table fills (forcing clear codes) and long strings occur.
        var data = new byte[length];
        for (int i = 0; i < length; i++) data[i] = (byte)(i % 97 < 40 ? (i / 13) % (1 << minCode) : rng.Next(1 << minCode));
        var codes = Lzw.Encode(data, minCode);
        var back = new byte[length];
        Assert.Equal(length, Lzw.Decode(codes, minCode, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public void FlatContentRoundTripsExactlyThroughOwnReaderAndFfmpeg()
    {
        using var dir = new TempDir();
        var v = TestVideos.Flat(24, 16, 5);
        string p = dir.File("flat.gif");
        GifWriter.Write(p, v);
        var back = GifReader.Read(p);
        Assert.Equal(5, back.FrameCount);
        for (int k = 0; k < 5; k++) Assert.Equal(v.Frames[k], back.Frames[k]);
        Assert.Equal(500.0 / 42, back.Fps, 6); // 12 fps -> delays 8, 9, 8, 8, 9 cs (cumulative rounding): 42 cs for 5 frames
        Assert.Equal(new[] { "flat.gif" }, dir.Entries());
        if (!TestVideos.HaveFfmpeg(log)) return;
        var ff = Ffmpeg.ReadVideo(p);
        Assert.Equal(5, ff.FrameCount);
        for (int k = 0; k < 5; k++) Assert.Equal(v.Frames[k], ff.Frames[k]);
    }

    [Fact]
    public void SmoothContentIsApproximatedWellAndFfmpegDecodesTheSamePixels()
    {
        using var dir = new TempDir();
        var v = TestVideos.Smooth(64, 48, 6);
        string p = dir.File("smooth.gif");
        GifWriter.Write(p, v);
        var back = GifReader.Read(p);
        double psnr = TestVideos.Psnr(v, back);
        log.WriteLine($"GIF smooth PSNR {psnr:F1} dB, {new FileInfo(p).Length} bytes");
        Assert.True(psnr > 30, $"PSNR {psnr:F1} dB");
        if (!TestVideos.HaveFfmpeg(log)) return;
        var ff = Ffmpeg.ReadVideo(p);
        for (int k = 0; k < v.FrameCount; k++) Assert.Equal(back.Frames[k], ff.Frames[k]);
    }

    [Fact]
    public void ReadsPilAnimationWithLocalPalettesInterlaceAndDisposal()
    {
        var v = GifReader.Read(TestPaths.Fixture("anim.gif"));
        var raw = File.ReadAllBytes(TestPaths.Fixture("anim.raw"));
        Assert.Equal((20, 18, 3), (v.Width, v.Height, v.FrameCount));
        for (int k = 0; k < 3; k++) Assert.Equal(raw.AsSpan(k * 20 * 18 * 3, 20 * 18 * 3).ToArray(), v.Frames[k]);
        Assert.Equal(100.0 * 3 / (4 + 6 + 8), v.Fps, 6);
    }

    [Fact]
    public void FrameDelaysKeepOverallTimingAndLoopForever()
    {
        using var dir = new TempDir();
        var v = TestVideos.Flat(8, 8, 6);
        var v30 = new RgbVideo(8, 8, 30, v.Frames);
        string p = dir.File("t.gif");
        GifWriter.Write(p, v30);
        var bytes = File.ReadAllBytes(p);
        var delays = new List<int>();
        for (int i = 0; i + 5 < bytes.Length; i++)
            if (bytes[i] == 0x21 && bytes[i + 1] == 0xF9 && bytes[i + 2] == 4) delays.Add(bytes[i + 4] | bytes[i + 5] << 8);
        Assert.Equal(new[] { 3, 4, 3, 3, 4, 3 }, delays);
        Assert.Contains("NETSCAPE2.0", System.Text.Encoding.ASCII.GetString(bytes));
    }

    [Fact]
    public void BadGifsAreClear()
    {
        using var dir = new TempDir();
        string p = dir.File("x.gif");
        GifWriter.Write(p, TestVideos.Flat(8, 8, 2));
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<MediaException>(() => GifReader.Read(p));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("x.gif", e.Message);
        File.WriteAllBytes(p, "GIF00a-nope"u8.ToArray());
        Assert.Contains("wrong magic", Assert.Throws<MediaException>(() => GifReader.Read(p)).Message);
    }
}
