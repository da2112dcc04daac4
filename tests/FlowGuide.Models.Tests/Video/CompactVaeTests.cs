using FlowGuide.Models.Video;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using Xunit;

namespace FlowGuide.Models.Tests.Video;

public sealed class CompactVaeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-compactvae-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static CompactVae Vae(ulong seed = 1)
    {
        // random second convs so blocks are not the identity and every path carries signal
        var vae = new CompactVae(CompactVaeConfig.Tiny, new Rng(seed));
        var rng = new Rng(seed + 100);
        foreach (var (k, p) in vae.NamedParameters())
            if (k.Contains("conv2")) Tensor.Randn(rng, p.Shape.ToArray()).MulScalar(0.05f).Span.CopyTo(p.Span);
        return vae;
    }

    [Fact]
    public void ShapesFollowTheWanLatentLayout()
    {
        using var _ = GradMode.NoGrad();
        var vae = Vae();
        var x = Tensor.Randn(new Rng(2), 2, 3, 9, 16, 16).Clamp(-1f, 1f);
        var (mean, logVar) = vae.EncodeMoments(x);
        Assert.Equal(new[] { 2, 4, 3, 4, 4 }, mean.Shape.ToArray());
        Assert.Equal(mean.Shape.ToArray(), logVar.Shape.ToArray());
        Assert.Equal(new[] { 2, 3, 9, 16, 16 }, vae.Decode(vae.Encode(x)).Shape.ToArray());
        Assert.Equal(new[] { 1, 3, 1, 16, 16 }, vae.Decode(Tensor.Zeros(1, 4, 1, 4, 4)).Shape.ToArray());
    }

    [Fact]
    public void EachLatentFrameSeesOnlyItsOwnGroupOfFrames()
    {
        using var _ = GradMode.NoGrad();
        var vae = Vae();
        var x = Tensor.Randn(new Rng(3), 1, 3, 9, 16, 16).Clamp(-1f, 1f);
        var y = x.Clone();
        var s = y.Span;
        int frame = 16 * 16;
        for (int c = 0; c < 3; c++) for (int i = 0; i < frame; i++) s[(c * 9 + 6) * frame + i] += 0.5f;   // frame 6 is in group 2 (frames 5..8)
        var a = vae.EncodeMoments(x).Mean;
        var b = vae.EncodeMoments(y).Mean;
        for (int g = 0; g < 3; g++)
        {
            double diff = a.Narrow(2, g, 1).Sub(b.Narrow(2, g, 1)).Abs().Max().Item();
            if (g == 2) Assert.True(diff > 1e-4, $"latent frame 2 did not change ({diff})");
            else Assert.True(diff == 0, $"latent frame {g} changed by {diff}");
        }
        // and decoding: latent frame 1 drives video frames 1..4 only
        var z = Tensor.Randn(new Rng(4), 1, 4, 3, 4, 4);
        var z2 = z.Clone();
        var zs = z2.Span;
        for (int c = 0; c < 4; c++) for (int i = 0; i < 16; i++) zs[(c * 3 + 1) * 16 + i] += 1f;
        var v1 = vae.Decode(z);
        var v2 = vae.Decode(z2);
        for (int f = 0; f < 9; f++)
        {
            double diff = v1.Narrow(2, f, 1).Sub(v2.Narrow(2, f, 1)).Abs().Max().Item();
            Assert.True((f is >= 1 and <= 4) == diff > 0, $"frame {f}: change {diff}");
        }
    }

    [Fact]
    public void DecodingALatentRangeGivesTheSameFramesAsDecodingAll()
    {
        using var _ = GradMode.NoGrad();
        var vae = Vae();
        var z = Tensor.Randn(new Rng(8), 1, 4, 3, 4, 4);
        var all = vae.Decode(z);                                                        // 9 frames
        Assert.Equal(all.Narrow(2, 0, 5).ToArray(), vae.DecodeLatentRange(z, 0, 2, false).ToArray());
        Assert.Equal(all.Narrow(2, 5, 4).ToArray(), vae.DecodeLatentRange(z, 2, 1, false).ToArray());
        Assert.Equal(all.Narrow(2, 1, 8).ToArray(), vae.DecodeLatentRange(z, 1, 2, true).ToArray());
        Assert.Throws<ArgumentException>(() => vae.DecodeLatentRange(z, 2, 2, false));
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var vae = Vae();
        var x = Tensor.Randn(new Rng(5), 1, 3, 5, 8, 8).MulScalar(0.5f);
        var w = Tensor.Randn(new Rng(6), 1, 3, 5, 8, 8);
        x.RequiresGrad = true;
        float Loss() { using var _ = GradMode.NoGrad(); return vae.DecodeRaw(vae.EncodeMoments(x).Mean).Mul(w).Sum().Item(); }
        var loss = vae.DecodeRaw(vae.EncodeMoments(x).Mean).Mul(w).Sum();
        var names = new[] { "encoder.conv_in.weight", "encoder.blocks.0.conv2.weight", "decoder.resample.0.weight", "decoder.conv_out.bias" };
        var ps = vae.NamedParameters().Where(p => names.Contains(p.Key)).Select(p => p.Value).ToArray();
        var grads = Autograd.Grad(loss, ps.Append(x).ToArray());
        var all = ps.Append(x).ToArray();
        for (int t = 0; t < all.Length; t++)
        {
            var span = all[t].Span;
            foreach (int i in new[] { 0, span.Length / 3, span.Length - 1 })
            {
                float old = span[i];
                const float h = 1e-2f;
                span[i] = old + h; float lp = Loss();
                span[i] = old - h; float lm = Loss();
                span[i] = old;
                double fd = (lp - lm) / (2 * h), an = grads[t].Span[i];
                Assert.True(Math.Abs(fd - an) <= 2e-2 * Math.Max(1, Math.Abs(fd)), $"input {t} [{i}]: finite difference {fd}, autograd {an}");
            }
        }
    }

    [Fact]
    public void SaveLoadRoundTripsAndTheLoaderPicksTheClass()
    {
        var vae = Vae().WithLatentStats(new[] { 0.1, 0.2, 0.3, 0.4 }, new[] { 1.5, 2.0, 2.5, 3.0 });
        var dir = Path.Combine(_dir, "vae");
        vae.Save(dir);
        var loaded = Assert.IsType<CompactVae>(VideoAutoencoders.Load(dir));
        Assert.Equal(vae.Config.LatentsStd, loaded.Config.LatentsStd);
        using var _ = GradMode.NoGrad();
        var x = Tensor.Randn(new Rng(7), 1, 3, 5, 16, 16).Clamp(-1f, 1f);
        Assert.Equal(vae.Encode(x).ToArray(), loaded.Encode(x).ToArray());

        var wanDir = Path.Combine(_dir, "wan");
        new WanVae(WanVaeConfig.Tiny, new Rng(1)).Save(wanDir);
        Assert.IsType<WanVae>(VideoAutoencoders.Load(wanDir));

        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"_class_name\": \"SomethingElse\"}");
        var e = Assert.Throws<InvalidDataException>(() => VideoAutoencoders.Load(dir));
        Assert.Contains("SomethingElse", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => VideoAutoencoders.Load(Path.Combine(_dir, "missing")));
    }

    [Fact]
    public void BadVideoShapesThrowNamingTheRule()
    {
        var vae = Vae();
        var e = Assert.Throws<ArgumentException>(() => vae.Encode(Tensor.Zeros(1, 3, 6, 16, 16)));
        Assert.Contains("4k+1", e.Message);
        Assert.Throws<ArgumentException>(() => vae.Encode(Tensor.Zeros(1, 3, 5, 18, 16)));
        Assert.Throws<ArgumentException>(() => vae.Decode(Tensor.Zeros(1, 5, 2, 4, 4)));
    }
}
