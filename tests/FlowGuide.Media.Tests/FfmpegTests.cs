using Xunit.Abstractions;

namespace FlowGuide.Media.Tests;

public class FfmpegTests(ITestOutputHelper log)
{
    [Fact]
    public void ProbesAndReadsTheRealClip()
    {
        if (!TestVideos.HaveFfmpeg(log)) return;
        string path = TestPaths.Shared("video/cutie-example.mp4");
        var probe = Ffmpeg.Probe(path);
        Assert.Equal((640, 480, 117, 25.0), (probe.Width, probe.Height, probe.FrameCount, Math.Round(probe.Fps, 3)));
        var v = Ffmpeg.ReadVideo(path, maxFrames: 4);
        Assert.Equal((640, 480, 4), (v.Width, v.Height, v.FrameCount));
        Assert.Equal(25.0, v.Fps, 3);
        Assert.True(v.Frames[0].Distinct().Count() > 100);
    }

    [Fact]
    public void ReadsAllFramesOfTheRealClip()
    {
        if (!TestVideos.HaveFfmpeg(log)) return;
        var v = VideoIO.ReadFrames(TestPaths.Shared("video/cutie-example.mp4"));
        Assert.Equal(117, v.FrameCount);
    }

    [Fact]
    public void ReadsTheJpegFrameFolder()
    {
        if (!TestVideos.HaveFfmpeg(log)) return;
        string dir = TestPaths.Shared("video/cutie-judo");
        var v = VideoIO.ReadFrames(dir);
        Assert.Equal((854, 480, 16, 25.0), (v.Width, v.Height, v.FrameCount, v.Fps));
        var t = VideoIO.Read(dir);
        Assert.Equal(new[] { 3, 16, 480, 854 }, t.Shape.ToArray());
        Assert.True(t.Span.ToArray().All(x => x >= -1f && x <= 1f));
        // Consecutive frames differ (it is a real clip in order) but not wildly.
        double psnr = TestVideos.Psnr(new RgbVideo(854, 480, 25, new[] { v.Frames[0] }), new RgbVideo(854, 480, 25, new[] { v.Frames[1] }));
        Assert.InRange(psnr, 15, 60);
    }

    [Theory]
    [InlineData("clip.mp4", 64, 48)] [InlineData("odd.mp4", 33, 21)] [InlineData("clip.webm", 32, 32)]
    public void WritesVideoThatReadsBackAbove30Db(string name, int w, int h)
    {
        if (!TestVideos.HaveFfmpeg(log)) return;
        using var dir = new TempDir();
        var v = TestVideos.Smooth(w, h, 8, 24);
        string p = dir.File(name);
        VideoIO.WriteFrames(p, v);
        Assert.Equal(new[] { name }, dir.Entries());
        var back = Ffmpeg.ReadVideo(p);
        Assert.Equal(8, back.FrameCount);
        Assert.Equal(24.0, back.Fps, 3);
        Assert.Equal(((w + 1) & ~1, (h + 1) & ~1), (back.Width, back.Height)); // yuv420p: odd sizes padded by one
        var cropped = back.Frames.Select(f => Crop(f, back.Width, w, h)).ToArray();
        double psnr = TestVideos.Psnr(v, new RgbVideo(w, h, 24, cropped));
        log.WriteLine($"{name}: {psnr:F1} dB");
        Assert.True(psnr > 30, $"PSNR {psnr:F1} dB");
    }

    [Fact]
    public void BadInputsGiveOneLineMediaExceptions()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<MediaException>(() => VideoIO.ReadFrames(dir.File("missing.mp4")));
        Assert.Contains("not found", e.Message);
        var v = TestVideos.Smooth(16, 16, 2);
        Assert.Throws<MediaException>(() => VideoIO.WriteFrames(dir.File("no/such/dir/x.mp4"), v));
        Assert.Contains("unknown extension", Assert.Throws<MediaException>(() => VideoIO.WriteFrames(dir.File("x.avi2"), v)).Message);
        Assert.Empty(dir.Entries());
        if (!TestVideos.HaveFfmpeg(log)) return;
        string junk = dir.File("junk.mp4");
        File.WriteAllBytes(junk, Enumerable.Range(0, 5000).Select(i => (byte)(i * 31)).ToArray());
        e = Assert.Throws<MediaException>(() => VideoIO.ReadFrames(junk));
        Assert.Contains("junk.mp4", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        log.WriteLine(e.Message);
        string jpg = dir.File("bad.jpg");
        File.WriteAllText(jpg, "not a jpeg");
        Assert.Contains("bad.jpg", Assert.Throws<MediaException>(() => ImageIO.Read(jpg)).Message);
    }

    [Fact]
    public void MissingFfmpegMessageSaysWhatToDo()
    {
        Assert.Null(Ffmpeg.Locate("flowguide-no-such-program", "FLOWGUIDE_NO_SUCH_VARIABLE"));
        Assert.Contains("apt-get install ffmpeg", Ffmpeg.NotFoundMessage);
        Assert.Contains(".gif/.y4m/png frames", Ffmpeg.NotFoundMessage);
    }

    private static byte[] Crop(byte[] f, int fw, int w, int h)
    {
        var o = new byte[w * h * 3];
        for (int y = 0; y < h; y++) Array.Copy(f, y * fw * 3, o, y * w * 3, w * 3);
        return o;
    }
}
