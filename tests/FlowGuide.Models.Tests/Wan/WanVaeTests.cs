using FlowGuide.Models.Wan;
using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Models.Tests.Wan;

public sealed class WanVaeTests(ITestOutputHelper output)
{
    private static readonly string TinyDir = Path.Combine(AppContext.BaseDirectory, "Data", "wan_vae_tiny");

    private static double RelError(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var a = actual.Span; var e = expected.Span;
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++) { double d = a[i] - e[i]; num += d * d; den += (double)e[i] * e[i]; }
        return Math.Sqrt(num / Math.Max(den, 1e-30));
    }

    private static double MaxAbs(Tensor actual, Tensor expected)
    {
        double m = 0;
        var a = actual.Span; var e = expected.Span;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - e[i]));
        return m;
    }

    private void AssertParity(string what, Tensor actual, Tensor expected, double tol = 1e-4)
    {
        double rel = RelError(actual, expected);
        output.WriteLine($"{what}: rel {rel:E2}, max abs {MaxAbs(actual, expected):E2}");
        Assert.True(rel < tol, $"{what}: relative error {rel:E3} >= {tol:E1}");
    }

    [Fact]
    public void TinyMatchesTorchReference()
    {
        var vae = WanVae.Load(TinyDir, strict: true);
        Assert.Equal(WanVaeConfig.Tiny.BaseDim, vae.Config.BaseDim);
        Assert.Equal(WanVaeConfig.Tiny.LatentsStd, vae.Config.LatentsStd);
        using var io = SafeTensorsFile.Open(Path.Combine(TinyDir, "io.safetensors"));
        var video = io.Load("video");
        using var _ = GradMode.NoGrad();

        var dist = vae.EncodeDistribution(video);
        AssertParity("posterior mean", dist.Mean, io.Load("posterior_mean"));
        AssertParity("posterior logvar", dist.LogVar, io.Load("posterior_logvar"));
        var latent = vae.Encode(video);
        AssertParity("latent (normalised)", latent, io.Load("latent"));

        var expectedLatent = io.Load("latent");
        AssertParity("decoded (unclamped)", vae.Decode(expectedLatent, clamp: false), io.Load("decoded_raw"));
        AssertParity("decoded", vae.Decode(expectedLatent), io.Load("decoded"));
    }

    [Fact]
    public void ChunkedRunsEqualWholeSequenceRuns()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(7));
        var video = Tensor.Randn(new Rng(3), 1, 3, 9, 8, 12).Clamp(-1f, 1f);
        using var _ = GradMode.NoGrad();
        var chunked = vae.Encode(video, chunked: true);
        var whole = vae.Encode(video, chunked: false);
        Assert.Equal(new Shape(1, 4, 5, 2, 3), chunked.Shape);
        AssertParity("encode chunked vs whole", chunked, whole, 1e-5);

        var decChunked = vae.Decode(chunked, clamp: false, chunked: true);
        var decWhole = vae.Decode(chunked, clamp: false, chunked: false);
        Assert.Equal(new Shape(1, 3, 9, 8, 12), decChunked.Shape);
        AssertParity("decode chunked vs whole", decChunked, decWhole, 1e-5);

        var pieces = vae.DecodeChunks(chunked, clamp: false).ToList();
        Assert.Equal(new[] { 1, 2, 2, 2, 2 }, pieces.Select(p => p.Size(2)));
    }

    [Fact]
    public void BatchItemsAreIndependent()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(12));
        var video = Tensor.Randn(new Rng(13), 2, 3, 3, 8, 8);
        using var _ = GradMode.NoGrad();
        var both = vae.Encode(video);
        var second = vae.Encode(video.Narrow(0, 1, 1));
        AssertParity("batch item 1 vs alone", both.Narrow(0, 1, 1), second, 1e-6);
        var dec = vae.Decode(both, clamp: false);
        AssertParity("batch decode item 1 vs alone", dec.Narrow(0, 1, 1), vae.Decode(second, clamp: false), 1e-6);
    }

    [Fact]
    public void EncoderAttentionScalesChunkLikeWholeRuns()
    {
        var config = WanVaeConfig.Tiny with { AttnScales = new[] { 1.0, 0.5 } };
        var vae = new WanVae(config, new Rng(8));
        Assert.Contains("encoder.down_blocks.1.to_qkv.weight", vae.StateDict().Keys);
        var video = Tensor.Randn(new Rng(9), 1, 3, 5, 8, 8);
        using var _ = GradMode.NoGrad();
        AssertParity("encode with attention, chunked vs whole", vae.Encode(video), vae.Encode(video, chunked: false), 1e-5);
    }

    [Fact]
    public void ChunkedDecodeKeepsTheGraph()
    {
        // The gradient w.r.t. the latent through the chunked path (cache links between chunks) must equal the one through
        // the whole-sequence path; a detached cache would drop the cross-chunk terms.
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(11));
        vae.Freeze();
        var latent = Tensor.Randn(new Rng(5), 1, 4, 3, 2, 2);
        var weights = Tensor.Randn(new Rng(6), 1, 3, 5, 8, 8);

        Tensor GradVia(bool chunked)
        {
            var z = latent.Detach();
            z.RequiresGrad = true;
            var loss = vae.Decode(z, clamp: false, chunked: chunked).Mul(weights).Sum();
            return Autograd.Grad(loss, new[] { z })[0];
        }

        var gChunked = GradVia(true);
        var gWhole = GradVia(false);
        AssertParity("latent gradient chunked vs whole", gChunked, gWhole, 1e-5);

        // The first latent frame influences later output frames only through the cache: its gradient from a loss on the
        // last chunk alone must be non-zero.
        var z0 = latent.Detach();
        z0.RequiresGrad = true;
        var last = vae.Decode(z0, clamp: false).Narrow(2, 3, 2).Mul(weights.Narrow(2, 3, 2)).Sum();
        var g0 = Autograd.Grad(last, new[] { z0 })[0].Narrow(2, 0, 1);
        Assert.True(g0.Span.ToArray().Any(v => v != 0f), "no gradient reached latent frame 0 from the last chunk");

        // Finite-difference check of one latent element through the chunked path.
        var zc = latent.Detach().Clone();
        float Loss(Tensor z) { using var _ = GradMode.NoGrad(); return vae.Decode(z, clamp: false).Mul(weights).Sum().Span[0]; }
        int idx = 5; // an element of latent frame 0
        float eps = 1e-2f, orig = zc.Span[idx];
        zc.Span[idx] = orig + eps; float lp = Loss(zc);
        zc.Span[idx] = orig - eps; float lm = Loss(zc);
        double fd = (lp - lm) / (2 * eps);
        output.WriteLine($"finite difference {fd:F5}, autograd {gChunked.Span[idx]:F5}");
        Assert.True(Math.Abs(fd - gChunked.Span[idx]) < 5e-4 + 0.05 * Math.Abs(fd), $"finite difference {fd} vs autograd {gChunked.Span[idx]}");
    }

    [Fact]
    public void SampleUsesLogVarianceAndRng()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(1));
        var video = Tensor.Randn(new Rng(2), 1, 3, 3, 8, 8).Clamp(-1f, 1f);
        using var _ = GradMode.NoGrad();
        var a = vae.EncodeSample(video, new Rng(42));
        var b = vae.EncodeSample(video, new Rng(42));
        var c = vae.EncodeSample(video, new Rng(43));
        var mode = vae.Encode(video);
        Assert.Equal(a.Span.ToArray(), b.Span.ToArray());
        Assert.NotEqual(a.Span.ToArray(), c.Span.ToArray());
        Assert.True(MaxAbs(a, mode) > 0);
    }

    [Theory]
    [InlineData(4, 8, 8, "frame count must be 1 + k·2")]
    [InlineData(2, 8, 8, "frame count must be 1 + k·2")]
    [InlineData(5, 6, 8, "multiples of 4")]
    public void BadVideoShapesThrow(int frames, int h, int w, string expected)
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(1));
        var ex = Assert.Throws<ArgumentException>(() => vae.Encode(Tensor.Zeros(1, 3, frames, h, w)));
        Assert.Contains(expected, ex.Message);
        Assert.Contains("WanVae.Encode", ex.Message);
        var bad = Assert.Throws<ArgumentException>(() => vae.Decode(Tensor.Zeros(1, 3, 2, 2, 2)));
        Assert.Contains("[B, 4, F', H', W']", bad.Message);
    }

    [Fact]
    public void Wan21FrameRuleIsFourKPlusOne()
    {
        var c = WanVaeConfig.Wan21;
        Assert.Equal(4, c.TemporalFactor);
        Assert.Equal(8, c.SpatialFactor);
        Assert.Equal(21, c.LatentFrames(81));
        Assert.Equal(81, c.VideoFrames(21));
        Assert.Equal((4, 4), (WanVaeConfig.Small.TemporalFactor, WanVaeConfig.Small.SpatialFactor));
    }

    [Fact]
    public void Wan21HasDiffusersKeyNamesAndShapes()
    {
        var vae = new WanVae(WanVaeConfig.Wan21, new Rng(0));
        var shapes = vae.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Shape);
        long count = vae.ParameterCount;
        output.WriteLine($"Wan2.1 VAE: {shapes.Count} tensors, {count} parameters");
        var expected = new (string Key, int[] Shape)[]
        {
            ("encoder.conv_in.weight", new[] { 96, 3, 3, 3, 3 }),
            ("encoder.down_blocks.0.norm1.gamma", new[] { 96, 1, 1, 1 }),
            ("encoder.down_blocks.2.resample.1.weight", new[] { 96, 96, 3, 3 }),
            ("encoder.down_blocks.3.conv_shortcut.weight", new[] { 192, 96, 1, 1, 1 }),
            ("encoder.down_blocks.5.time_conv.weight", new[] { 192, 192, 3, 1, 1 }),
            ("encoder.down_blocks.8.time_conv.weight", new[] { 384, 384, 3, 1, 1 }),
            ("encoder.down_blocks.10.conv2.weight", new[] { 384, 384, 3, 3, 3 }),
            ("encoder.mid_block.attentions.0.norm.gamma", new[] { 384, 1, 1 }),
            ("encoder.mid_block.attentions.0.to_qkv.weight", new[] { 1152, 384, 1, 1 }),
            ("encoder.mid_block.attentions.0.proj.bias", new[] { 384 }),
            ("encoder.mid_block.resnets.1.conv2.weight", new[] { 384, 384, 3, 3, 3 }),
            ("encoder.norm_out.gamma", new[] { 384, 1, 1, 1 }),
            ("encoder.conv_out.weight", new[] { 32, 384, 3, 3, 3 }),
            ("quant_conv.weight", new[] { 32, 32, 1, 1, 1 }),
            ("post_quant_conv.weight", new[] { 16, 16, 1, 1, 1 }),
            ("decoder.conv_in.weight", new[] { 384, 16, 3, 3, 3 }),
            ("decoder.up_blocks.0.resnets.0.conv1.weight", new[] { 384, 384, 3, 3, 3 }),
            ("decoder.up_blocks.0.resnets.2.conv2.weight", new[] { 384, 384, 3, 3, 3 }),
            ("decoder.up_blocks.0.upsamplers.0.time_conv.weight", new[] { 768, 384, 3, 1, 1 }),
            ("decoder.up_blocks.0.upsamplers.0.resample.1.weight", new[] { 192, 384, 3, 3 }),
            ("decoder.up_blocks.1.resnets.0.conv_shortcut.weight", new[] { 384, 192, 1, 1, 1 }),
            ("decoder.up_blocks.2.upsamplers.0.resample.1.weight", new[] { 96, 192, 3, 3 }),
            ("decoder.up_blocks.3.resnets.0.conv1.weight", new[] { 96, 96, 3, 3, 3 }),
            ("decoder.norm_out.gamma", new[] { 96, 1, 1, 1 }),
            ("decoder.conv_out.weight", new[] { 3, 96, 3, 3, 3 }),
        };
        foreach (var (key, shape) in expected)
        {
            Assert.True(shapes.ContainsKey(key), $"missing {key}");
            Assert.Equal(new Shape(shape), shapes[key]);
        }
        Assert.DoesNotContain("decoder.up_blocks.2.upsamplers.0.time_conv.weight", shapes.Keys);
        Assert.DoesNotContain("decoder.up_blocks.3.resnets.0.conv_shortcut.weight", shapes.Keys);
        Assert.DoesNotContain("encoder.down_blocks.2.time_conv.weight", shapes.Keys);
        Assert.DoesNotContain(shapes.Keys, k => k.Contains("dropout"));
    }

    [Fact]
    public void SaveLoadRoundTripAndStrictReport()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(9));
        string dir = Path.Combine(Path.GetTempPath(), "flowguide-wanvae-" + Guid.NewGuid().ToString("N"));
        try
        {
            vae.Save(dir);
            var back = WanVae.Load(dir);
            Assert.Equal(vae.Config.DimMult, back.Config.DimMult);
            Assert.Equal(vae.Config.LatentsMean, back.Config.LatentsMean);
            foreach (var (k, v) in vae.StateDict()) Assert.Equal(v.Span.ToArray(), back.StateDict()[k].Span.ToArray());

            // A config that disagrees with the weights fails strictly, naming the mismatched keys.
            var other = WanVaeConfig.Tiny with { NumResBlocks = 2 };
            File.WriteAllText(Path.Combine(dir, WanVae.ConfigFileName), other.ToJson());
            var ex = Assert.Throws<StateDictMismatchException>(() => WanVae.Load(dir));
            Assert.Contains("missing", ex.Message);
            Assert.Contains("encoder.down_blocks.", ex.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ConfigJsonUsesDiffusersKeys()
    {
        string json = WanVaeConfig.Wan21.ToJson();
        Assert.Contains("\"_class_name\": \"AutoencoderKLWan\"", json);
        Assert.Contains("\"temperal_downsample\"", json);
        Assert.Contains("\"latents_std\"", json);
        var back = WanVaeConfig.FromJson(json);
        Assert.Equal(WanVaeConfig.Wan21.LatentsMean, back.LatentsMean);
        Assert.Equal(new[] { false, true, true }, back.TemperalDownsample);

        // A diffusers config with keys this library ignores.
        var diffusers = """
            {"_class_name": "AutoencoderKLWan", "_diffusers_version": "0.33.0.dev0", "attn_scales": [], "base_dim": 96,
             "dim_mult": [1, 2, 4, 4], "dropout": 0.0, "num_res_blocks": 2, "temperal_downsample": [false, true, true],
             "z_dim": 16, "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134,
             -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921], "latents_std": [2.8184, 1.4541, 2.3275, 2.6558,
             1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916]}
            """;
        var c = WanVaeConfig.FromJson(diffusers);
        Assert.Equal(96, c.BaseDim);
        Assert.Equal(1.916, c.LatentsStd[15]);
        Assert.Throws<ArgumentException>(() => WanVaeConfig.FromJson("""{"z_dim": 4}"""));
        Assert.Throws<NotSupportedException>(() => WanVaeConfig.FromJson("""{"is_residual": true}"""));
    }
}
