using FlowGuide.Media;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>Source preparation: frame picking, fitting, encoding, and errors that name the file.</summary>
public sealed class SourceVideoTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-src-" + Guid.NewGuid().ToString("N")[..8]);

    public SourceVideoTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A tiny VAE with 4x temporal and 4x spatial compression: 5 frames of 16x16 become [1, 4, 2, 4, 4].</summary>
    private static WanVae Vae() => new(WanVaeConfig.Tiny with { TemperalDownsample = new[] { true, true } }, new Rng(2));

    /// <summary>Frame k is a uniform grey of value 10 k (so frame identity survives any resize), w x h.</summary>
    private static RgbVideo Numbered(int frames, int w = 24, int h = 20) =>
        new(w, h, 12, Enumerable.Range(0, frames).Select(k => Enumerable.Repeat((byte)(10 * k), w * h * 3).ToArray()).ToArray());

    private static int[] FrameValues(Tensor video) // [1, 3, F, H, W] -> the grey level of each frame's centre
    {
        int f = video.Size(2), h = video.Size(3), w = video.Size(4);
        return Enumerable.Range(0, f).Select(k => (int)Math.Round((video[0, 0, k, h / 2, w / 2] + 1) * 127.5 / 10)).ToArray();
    }

    [Fact]
    public void UniformIndicesSpreadAndRepeat()
    {
        Assert.Equal(new[] { 0, 4, 8, 12, 16 }, SourceVideo.UniformIndices(17, 5));
        Assert.Equal(new[] { 0, 1, 1, 2, 2, 3, 3, 4, 4 }, SourceVideo.UniformIndices(5, 9));
        Assert.Equal(new[] { 0, 1, 2 }, SourceVideo.UniformIndices(3, 3));
    }

    [Fact]
    public void UniformAndFirstPickDifferentFrames()
    {
        var src = Numbered(17);
        var (u, ui, uw) = SourceVideo.Conform(src, "clip", 5, 16, 16, new SourceVideoOptions());
        Assert.Equal(new[] { 0, 4, 8, 12, 16 }, ui);
        Assert.Equal(ui, FrameValues(u));
        Assert.Empty(uw);
        var (f, fi, _) = SourceVideo.Conform(src, "clip", 5, 16, 16, new SourceVideoOptions { Sampling = FrameSampling.First });
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, fi);
        Assert.Equal(fi, FrameValues(f));
        Assert.Equal(new[] { 1, 3, 5, 16, 16 }, f.Shape.ToArray());
    }

    [Theory]
    [InlineData(FrameSampling.Uniform)]
    [InlineData(FrameSampling.First)]
    public void ShortClipIsStretchedWithRepeatsAndAWarning(FrameSampling sampling)
    {
        var (v, idx, warnings) = SourceVideo.Conform(Numbered(3), "short.y4m", 9, 16, 16, new SourceVideoOptions { Sampling = sampling });
        Assert.Equal(9, idx.Length);
        Assert.Equal(SourceVideo.UniformIndices(3, 9), idx);
        Assert.Equal(idx, FrameValues(v));
        var w = Assert.Single(warnings);
        Assert.Contains("short.y4m", w);
        Assert.Contains("has 3 frames, fewer than the 9", w);
        Assert.Contains("4x slower", w);
    }

    [Fact]
    public void OneFrameIsAnErrorNamingTheSource()
    {
        var e = Assert.Throws<ArgumentException>(() => SourceVideo.Conform(Numbered(1), "still.png", 5, 16, 16, new SourceVideoOptions()));
        Assert.Contains("still.png", e.Message);
        Assert.Contains("at least 2 frames", e.Message);
    }

    [Fact]
    public void FitModesCropPadAndStretch()
    {
        // 32 wide x 16 high, left half black, right half white, into 16x16
        var rgb = new byte[32 * 16 * 3];
        for (int y = 0; y < 16; y++) for (int x = 16; x < 32; x++) for (int c = 0; c < 3; c++) rgb[(y * 32 + x) * 3 + c] = 255;
        var clip = new RgbVideo(32, 16, 8, new[] { rgb, rgb });
        float Px(Tensor v, int y, int x) => v[0, 0, 0, y, x];
        var (crop, _, _) = SourceVideo.Conform(clip, "c", 1, 16, 16, new SourceVideoOptions { Fit = FitMode.Cover });
        Assert.Equal(-1f, Px(crop, 8, 0), 3);  // centre crop: columns 8..23 of the source
        Assert.Equal(1f, Px(crop, 8, 15), 3);
        var (pad, _, _) = SourceVideo.Conform(clip, "c", 1, 16, 16, new SourceVideoOptions { Fit = FitMode.Contain });
        Assert.Equal(-1f, Px(pad, 0, 15), 3);   // letterbox rows are black
        Assert.Equal(1f, Px(pad, 8, 15), 3);
        var (stretch, _, _) = SourceVideo.Conform(clip, "c", 1, 16, 16, new SourceVideoOptions { Fit = FitMode.Stretch });
        Assert.Equal(1f, Px(stretch, 0, 15), 3);
        Assert.Equal(-1f, Px(stretch, 0, 0), 3);
    }

    [Fact]
    public void PrepareReadsY4mAndFrameFoldersAndEncodes()
    {
        var clip = Numbered(7, 24, 20).ToTensor(); // [3, 7, 20, 24]
        var y4m = Path.Combine(_dir, "clip.y4m");
        VideoIO.Write(y4m, clip, 12);
        var folder = Path.Combine(_dir, "frames") + Path.DirectorySeparatorChar;
        VideoIO.Write(folder, clip, 12);
        var vae = Vae();
        foreach (var path in new[] { y4m, folder })
        {
            var p = SourceVideo.Prepare(path, vae, 5, 16, 16);
            Assert.Equal(new[] { 1, 3, 5, 16, 16 }, p.Video.Shape.ToArray());
            Assert.Equal(new[] { 1, 4, 2, 4, 4 }, p.Latent.Shape.ToArray());
            Assert.Equal((7, 24, 20), (p.SourceFrames, p.SourceWidth, p.SourceHeight));
            Assert.Equal(new[] { 0, 2, 3, 5, 6 }, p.FrameIndices); // round(i * 6 / 4), halves away from zero
            Assert.All(p.Latent.ToArray(), x => Assert.True(float.IsFinite(x)));
            Assert.Null(p.Latent.GradFn);
        }
        Assert.Throws<ArgumentException>(() => SourceVideo.Prepare(y4m, vae, 6, 16, 16));  // not 4k + 1
        Assert.Throws<ArgumentException>(() => SourceVideo.Prepare(y4m, vae, 5, 16, 18)); // not a multiple of 4
    }

    [Fact]
    public void UnreadableOrMissingFilesAreIOExceptionsNamingTheFile()
    {
        var bad = Path.Combine(_dir, "broken.y4m");
        File.WriteAllText(bad, "this is not a video");
        var e = Assert.Throws<IOException>(() => SourceVideo.Prepare(bad, Vae(), 5, 16, 16));
        Assert.Contains("broken.y4m", e.Message);
        var gif = Path.Combine(_dir, "broken.gif");
        File.WriteAllBytes(gif, new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1 });
        Assert.Contains("broken.gif", Assert.Throws<IOException>(() => SourceVideo.Read(gif)).Message);
        var missing = Path.Combine(_dir, "nope.mp4");
        Assert.Contains("nope.mp4", Assert.Throws<IOException>(() => SourceVideo.Read(missing)).Message);
    }

    [Fact]
    public void NoisedIsTheFlowMatchingPath()
    {
        var x = Tensor.Randn(new Rng(1), 1, 2, 2, 2, 2);
        var n = Tensor.Randn(new Rng(2), 1, 2, 2, 2, 2);
        var z = SourceVideo.Noised(x, 0.3, n).ToArray();
        for (int i = 0; i < z.Length; i++) Assert.Equal(0.7f * x.Span[i] + 0.3f * n.Span[i], z[i], 5);
        Assert.Throws<ArgumentException>(() => SourceVideo.Noised(x, 1.5, n));
    }
}
