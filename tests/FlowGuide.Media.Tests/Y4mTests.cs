using System.Diagnostics;
using Xunit.Abstractions;

namespace FlowGuide.Media.Tests;

public class Y4mTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(YuvRange.Limited)] [InlineData(YuvRange.Full)]
    public void C444RoundTripIsNearlyExact(YuvRange range)
    {
        using var dir = new TempDir();
        var rng = new Random(1);
        var frames = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 9 * 7 * 3).Select(_ => (byte)rng.Next(256)).ToArray()).ToArray();
        var v = new RgbVideo(9, 7, 24, frames);
        string p = dir.File("a.y4m");
        Y4m.Write(p, v, Y4mChroma.C444, range);
        var back = Y4m.Read(p, out var info);
        Assert.Equal((9, 7, 24, 1, Y4mChroma.C444, range, 3), (info.Width, info.Height, info.FpsNum, info.FpsDen, info.Chroma, info.Range, info.FrameCount));
        // Quantising to 8-bit YCbCr and back loses at most a couple of levels (limited range has fewer codes).
        for (int k = 0; k < 3; k++) Assert.True(TestVideos.MaxDiff(frames[k], back.Frames[k]) <= (range == YuvRange.Full ? 2 : 3));
    }

    [Theory]
    [InlineData(Y4mChroma.C420Jpeg, 64, 48)] [InlineData(Y4mChroma.C420Mpeg2, 64, 48)] [InlineData(Y4mChroma.C420Jpeg, 33, 21)]
    [InlineData(Y4mChroma.C422, 30, 20)]
    public void SubsampledRoundTripOnSmoothContent(Y4mChroma chroma, int w, int h)
    {
        using var dir = new TempDir();
        var v = TestVideos.Smooth(w, h, 4, 30000.0 / 1001);
        string p = dir.File("s.y4m");
        Y4m.Write(p, v, chroma);
        var back = Y4m.Read(p, out var info);
        Assert.Equal((30000, 1001, chroma), (info.FpsNum, info.FpsDen, info.Chroma));
        Assert.Equal(30000.0 / 1001, back.Fps, 9);
        double psnr = TestVideos.Psnr(v, back);
        log.WriteLine($"{chroma} {w}x{h}: {psnr:F1} dB");
        Assert.True(psnr > 38, $"PSNR {psnr:F1} dB");
    }

    [Fact]
    public void ParsesFrameHeaderParametersAndMono()
    {
        using var dir = new TempDir();
        string p = dir.File("m.y4m");
        var bytes = new List<byte>();
        bytes.AddRange("YUV4MPEG2 W2 H1 F30:1 It A0:0 Cmono XFOO=bar\nFRAME Ixyz\n"u8.ToArray());
        bytes.AddRange(new byte[] { 16, 235 });
        bytes.AddRange("FRAME\n"u8.ToArray());
        bytes.AddRange(new byte[] { 126, 126 });
        File.WriteAllBytes(p, bytes.ToArray());
        var v = Y4m.Read(p, out var info);
        Assert.Equal((2, 't', Y4mChroma.Mono), (v.FrameCount, info.Interlace, info.Chroma));
        Assert.Equal(new byte[] { 0, 0, 0, 255, 255, 255 }, v.Frames[0]);
        Assert.Equal(128, v.Frames[1][0]);
    }

    [Fact]
    public void BadFilesAreClear()
    {
        using var dir = new TempDir();
        string p = dir.File("bad.y4m");
        File.WriteAllText(p, "RIFF nope");
        Assert.Contains("wrong magic", Assert.Throws<MediaException>(() => Y4m.Read(p)).Message);
        File.WriteAllBytes(p, "YUV4MPEG2 W4 H4 C420p10\nFRAME\n"u8.ToArray());
        Assert.Contains("not supported", Assert.Throws<MediaException>(() => Y4m.Read(p)).Message);
        File.WriteAllBytes(p, "YUV4MPEG2 W4 H4 C444\nFRAME\n\0\0\0"u8.ToArray());
        var e = Assert.Throws<MediaException>(() => Y4m.Read(p));
        Assert.Contains("truncated frame 0", e.Message);
        Assert.Contains("bad.y4m", e.Message);
        Assert.Throws<MediaException>(() => Y4m.Write(dir.File("nodir/x.y4m"), TestVideos.Flat(8, 8, 1)));
        Assert.Equal(new[] { "bad.y4m" }, dir.Entries());
    }

    [Theory]
    [InlineData(Y4mChroma.C420Jpeg)] [InlineData(Y4mChroma.C420Mpeg2)] [InlineData(Y4mChroma.C444)]
    public void FfmpegDecodesOurY4mToTheSamePixels(Y4mChroma chroma)
    {
        if (!TestVideos.HaveFfmpeg(log)) return;
        using var dir = new TempDir();
        var v = TestVideos.Smooth(48, 32, 3);
        string p = dir.File("o.y4m");
        Y4m.Write(p, v, chroma);
        var ours = Y4m.Read(p);
        var theirs = Ffmpeg.ReadVideo(p);
        Assert.Equal(3, theirs.FrameCount);
        double psnr = TestVideos.Psnr(ours, theirs);
        log.WriteLine($"{chroma}: ours vs ffmpeg {psnr:F1} dB");
        Assert.True(psnr > (chroma == Y4mChroma.C444 ? 60 : 36), $"our decode vs ffmpeg's: {psnr:F1} dB"); // swscale upsamples chroma its own way
    }

    [Fact]
    public void ReadsY4mThatFfmpegMadeFromTheRealClip()
    {
        if (!TestVideos.HaveFfmpeg(log)) return;
        using var dir = new TempDir();
        string src = TestPaths.Shared("video/cutie-example.mp4"), y4m = dir.File("c.y4m");
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-i", src, "-frames:v", "3", "-pix_fmt", "yuv420p", "-strict", "-1", y4m }) psi.ArgumentList.Add(a);
        using (var pr = Process.Start(psi)!) { pr.WaitForExit(); Assert.Equal(0, pr.ExitCode); }
        var ours = Y4m.Read(y4m, out var info);
        Assert.Equal((640, 480, 3, 25.0), (ours.Width, ours.Height, ours.FrameCount, info.Fps));
        var direct = Ffmpeg.ReadVideo(src, maxFrames: 3);
        double psnr = TestVideos.Psnr(ours, direct);
        log.WriteLine($"real clip via y4m vs direct: {psnr:F1} dB");
        Assert.True(psnr > 35, $"PSNR {psnr:F1} dB");
    }
}
