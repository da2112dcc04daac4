using FlowGuide.Tensors;

namespace FlowGuide.Media.Tests;

public class VideoIOTests
{
    [Fact]
    public void TensorConversionRoundTripsEveryByte()
    {
        var frames = new[] { Enumerable.Range(0, 256 * 3).Select(i => (byte)(i / 3)).ToArray(), Enumerable.Range(0, 768).Select(i => (byte)(255 - i % 256)).ToArray() };
        var v = new RgbVideo(16, 16, 10, frames);
        var t = v.ToTensor();
        Assert.Equal(new[] { 3, 2, 16, 16 }, t.Shape.ToArray());
        Assert.Equal(-1f, t[0, 0, 0, 0]);
        Assert.Equal(1f, t[2, 0, 15, 15]);
        Assert.Equal(frames[1][(3 * 16 + 5) * 3 + 1] / 127.5f - 1f, t[1, 1, 3, 5], 6);
        var back = RgbVideo.FromTensor(t, 10);
        Assert.Equal(frames[0], back.Frames[0]);
        Assert.Equal(frames[1], back.Frames[1]);
        Assert.Equal((byte)0, RgbVideo.ToByte(-3f));
        Assert.Equal((byte)255, RgbVideo.ToByte(7f));
        Assert.Equal((byte)0, RgbVideo.ToByte(float.NaN));
        Assert.Throws<ArgumentException>(() => RgbVideo.FromTensor(Tensor.Zeros(4, 1, 2, 2), 10));
    }

    [Theory]
    [InlineData("v.gif")] [InlineData("v.y4m")] [InlineData("frames")] [InlineData("frames2/")]
    public void WriteAndReadDispatchOnThePath(string name)
    {
        using var dir = new TempDir();
        // Y4M is 4:2:0 (chroma at half resolution): sharp colour edges blur, so it gets smooth content.
        var v = name.EndsWith(".y4m") ? TestVideos.Smooth(16, 12, 3, 12) : TestVideos.Flat(16, 12, 3);
        var t = v.ToTensor();
        string p = dir.File(name);
        VideoIO.Write(p, t, 12);
        var back = VideoIO.Read(p, out double fps);
        Assert.Equal(t.Shape.ToArray(), back.Shape.ToArray());
        var bv = RgbVideo.FromTensor(back, fps);
        double psnr = TestVideos.Psnr(v, bv);
        Assert.True(name.EndsWith(".y4m") ? psnr > 30 : double.IsPositiveInfinity(psnr), $"{name}: {psnr:F1} dB");
        Assert.Single(dir.Entries()); // no temporary file or folder left behind
        if (!name.Contains('.'))
            Assert.Equal(new[] { "frame_0000.png", "frame_0001.png", "frame_0002.png" }, FrameFolder.List(p).Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void FrameFolderReplacesOldFramesAndChecksSizes()
    {
        using var dir = new TempDir();
        string p = dir.File("out");
        VideoIO.WriteFrames(p, TestVideos.Flat(8, 8, 5));
        VideoIO.WriteFrames(p, TestVideos.Flat(8, 8, 2));
        Assert.Equal(2, VideoIO.ReadFrames(p).FrameCount);
        PngWriter.WriteRgb8(Path.Combine(p, "frame_0002.png"), 4, 4, new byte[48]);
        var e = Assert.Throws<MediaException>(() => FrameFolder.Read(p));
        Assert.Contains("frame_0002.png", e.Message);
        Assert.Contains("4x4", e.Message);
        Assert.Contains("8x8", e.Message);
        Directory.CreateDirectory(dir.File("empty"));
        Assert.Contains("no image files", Assert.Throws<MediaException>(() => FrameFolder.Read(dir.File("empty"))).Message);
        Assert.Throws<MediaException>(() => VideoIO.WriteFrames(dir.File("missing/parent/out"), TestVideos.Flat(8, 8, 1)));
    }

    [Fact]
    public void NaturalSortOrdersNumbersByValue()
    {
        var names = new[] { "f10.png", "f2.png", "f1.png", "g.png", "f02.png", "f100.png" };
        Array.Sort(names, FrameFolder.NaturalCompare);
        Assert.Equal(new[] { "f1.png", "f2.png", "f02.png", "f10.png", "f100.png", "g.png" }, names);
    }

    [Fact]
    public void ReadsMmflowPngAndPpmAsOneFrameVideos()
    {
        var a = VideoIO.ReadFrames(TestPaths.Shared("flow/mmflow/0000000-img_1.png"));
        var b = VideoIO.ReadFrames(TestPaths.Shared("flow/mmflow/00001_img2.ppm"));
        Assert.Equal((50, 50, 1), (a.Width, a.Height, a.FrameCount));
        Assert.Equal((50, 50, 1), (b.Width, b.Height, b.FrameCount));
    }

    [Fact]
    public void ResampleKeepsEndpointsAndInterpolatesLinearly()
    {
        // Frame k is constant k.
        var v = Tensor.Zeros(3, 5, 2, 2);
        var s = v.Span;
        for (int c = 0; c < 3; c++) for (int k = 0; k < 5; k++) s.Slice((c * 5 + k) * 4, 4).Fill(k);
        var lin = VideoIO.Resample(v, 9);
        Assert.Equal(new[] { 3, 9, 2, 2 }, lin.Shape.ToArray());
        for (int i = 0; i < 9; i++) Assert.Equal(i * 0.5f, lin[2, i, 1, 1], 5);
        var near = VideoIO.Resample(v, 3, TemporalInterpolation.Nearest);
        Assert.Equal(new[] { 0f, 2f, 4f }, Enumerable.Range(0, 3).Select(i => near[0, i, 0, 0]));
        var down = VideoIO.Resample(v, 2);
        Assert.Equal(new[] { 0f, 4f }, Enumerable.Range(0, 2).Select(i => down[1, i, 0, 0]));
        Assert.Equal(0f, VideoIO.Resample(v, 1)[0, 0, 0, 0]);
        Assert.Throws<ArgumentException>(() => VideoIO.Resample(v, 0));
    }

    [Fact]
    public void ResizeAutoMatchesBilinearWhenGrowingAndAreaWhenShrinking()
    {
        var rng = new Random(3);
        var x = Tensor.FromArray(Enumerable.Range(0, 3 * 2 * 6 * 8).Select(_ => (float)rng.NextDouble()).ToArray(), 3, 2, 6, 8);
        var up = VideoIO.Resize(x, 11, 13);
        var reference = x.Reshape(1, 6, 6, 8).UpsampleBilinear2d(11, 13).Reshape(3, 2, 11, 13);
        for (int i = 0; i < up.Numel; i++) Assert.Equal(reference.Span[i], up.Span[i], 1e-5f);
        Assert.Equal(reference.ToArray(), VideoIO.Resize(x, 11, 13, ResizeMode.Bilinear).ToArray());
        // Integer shrink by area = 2x2 average pooling.
        var down = VideoIO.Resize(x, 3, 4);
        var pooled = x.Reshape(1, 6, 6, 8).AvgPool2d(2).Reshape(3, 2, 3, 4);
        for (int i = 0; i < down.Numel; i++) Assert.Equal(pooled.Span[i], down.Span[i], 1e-5f);
        // Fractional area shrink preserves the mean.
        var frac = VideoIO.Resize(x, 4, 5, ResizeMode.Area);
        Assert.Equal(x.ToArray().Average(), frac.ToArray().Average(), 3);
    }

    [Fact]
    public void CenterCropAndFit()
    {
        var x = Tensor.FromArray(Enumerable.Range(0, 3 * 1 * 4 * 6).Select(i => (float)i).ToArray(), 3, 1, 4, 6);
        var c = VideoIO.CenterCrop(x, 2, 2);
        Assert.Equal(new[] { 3, 1, 2, 2 }, c.Shape.ToArray());
        Assert.Equal(x[0, 0, 1, 2], c[0, 0, 0, 0]);
        Assert.Throws<ArgumentException>(() => VideoIO.CenterCrop(x, 5, 2));
        Assert.Equal(new[] { 3, 1, 8, 8 }, VideoIO.Fit(x, 8, 8, FitMode.Cover).Shape.ToArray());
        var contain = VideoIO.Fit(x, 8, 8, FitMode.Contain);
        Assert.Equal(new[] { 3, 1, 8, 8 }, contain.Shape.ToArray());
        Assert.Equal(-1f, contain[0, 0, 0, 0]);         // padded black
        Assert.NotEqual(-1f, contain[0, 0, 4, 4]);
        Assert.Equal(new[] { 3, 1, 5, 7 }, VideoIO.Fit(x, 5, 7, FitMode.Stretch).Shape.ToArray());
    }
}
