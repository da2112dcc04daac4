using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Models.Tests.Wan;

/// <summary>
/// The Tiny transformer against tools/reference/wan_transformer_ref.py (a plain-PyTorch transcription of wan.md run in
/// float64): B = 2 with different timesteps (999, 250.5), a non-square 3 x 4 x 6 latent (patch grid 3 x 2 x 3), a text
/// context with zero padding rows, BF16 weights with randomised norm weights.
/// </summary>
public class WanTransformerParityTests(ITestOutputHelper log)
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void TinyLoadsStrictlyAndMatchesReference()
    {
        var io = WanTestUtil.ReadIo();
        var model = WanTransformer3D.Load(WanTestUtil.TinyDir, out var report);
        Assert.True(report.IsExact, report.ToString());
        Assert.Equal(WanTransformerConfig.Tiny, model.Config);
        Tensor output;
        using (GradMode.NoGrad()) output = model.Forward(io["latent"], io["timestep"], io["context_in"]);
        double err = WanTestUtil.MaxRelError(io["output"], output);
        log.WriteLine($"Tiny velocity vs float64 reference: max|diff|/max|ref| = {err:E3}");
        Assert.True(err < Tolerance, $"velocity: max rel error {err:E3}");
    }

    [Fact]
    public void ConditioningMatchesReference()
    {
        // Pins the sinusoid (cos half first), the time MLP, time_proj's [B, 6, D] layout and the text projection.
        var io = WanTestUtil.ReadIo();
        var model = WanTransformer3D.Load(WanTestUtil.TinyDir);
        using var _ = GradMode.NoGrad();
        var (temb, proj, context) = model.ConditionEmbedder.Forward(io["timestep"], io["context_in"]);
        Assert.True(WanTestUtil.MaxRelError(io["temb"], temb) < Tolerance, "temb");
        Assert.True(WanTestUtil.MaxRelError(io["timestep_proj"], proj) < Tolerance, "timestep_proj");
        Assert.True(WanTestUtil.MaxRelError(io["context"], context) < Tolerance, "context");
    }

    [Fact]
    public void FirstBlockMatchesReference()
    {
        // Pins patchify token order, RoPE (interleaving and per-axis split) and one block's modulation order.
        var io = WanTestUtil.ReadIo();
        var model = WanTransformer3D.Load(WanTestUtil.TinyDir);
        using var _ = GradMode.NoGrad();
        var latent = io["latent"];
        var x = model.PatchEmbedding.Forward(latent); // [B, D, 3, 2, 3]
        int b = x.Size(0), d = x.Size(1);
        x = Ops.Permute(Ops.Reshape(x, b, d, 18), 0, 2, 1); // [B, 18, D]
        Assert.True(WanTestUtil.MaxRelError(io["tokens"], x) < Tolerance, "tokens");
        var (_, proj, context) = model.ConditionEmbedder.Forward(io["timestep"], io["context_in"]);
        var rope = Ops.RopeFrequencies(3, 2, 3, model.Config.HeadDim);
        var y = model.Blocks[0].Forward(x, proj, context, rope);
        Assert.True(WanTestUtil.MaxRelError(io["block0"], y) < Tolerance, "block 0");
    }

    [Fact]
    public void BroadcastTimestepEqualsRepeatedTimestep()
    {
        var io = WanTestUtil.ReadIo();
        var model = WanTransformer3D.Load(WanTestUtil.TinyDir);
        using var _ = GradMode.NoGrad();
        var shared = model.Forward(io["latent"], Tensor.FromArray(new[] { 500f }, 1), io["context_in"]);
        var both = model.Forward(io["latent"], Tensor.FromArray(new[] { 500f, 500f }, 2), io["context_in"]);
        Assert.Equal(both.ToArray(), shared.ToArray());
    }

    [Fact]
    public void CheckpointedGradientEqualsPlainGradient()
    {
        var io = WanTestUtil.ReadIo();
        var model = WanTransformer3D.Load(WanTestUtil.TinyDir);
        model.Freeze();
        var weights = Tensor.Randn(new Rng(5), io["output"].Shape.ToArray());
        (float[] Out, float[] Grad, float[] TextGrad) Run(int checkpointBlocks)
        {
            model.CheckpointBlocks = checkpointBlocks;
            var latent = io["latent"].Clone();
            latent.RequiresGrad = true;
            var text = io["context_in"].Clone();
            text.RequiresGrad = true; // MotionPrompt-style guidance optimises the text side
            var v = model.Forward(latent, io["timestep"], text);
            var loss = Ops.Sum(Ops.Mul(v, weights));
            var g = Autograd.Grad(loss, new[] { latent, text });
            return (v.ToArray(), g[0].ToArray(), g[1].ToArray());
        }
        var plain = Run(0);
        Assert.True(model.Blocks.Count >= 2, "the partial case needs two blocks");
        foreach (int blocks in new[] { 1, model.Blocks.Count, int.MaxValue }) // the first block only (partial), every block, "all"
        {
            var ckpt = Run(blocks);
            Assert.Equal(plain.Out, ckpt.Out);
            Assert.Equal(plain.Grad, ckpt.Grad);
            // The text gradient sums contributions from every block; checkpointing sums them in another order.
            double err = WanTestUtil.MaxRelError(Tensor.FromArray(plain.TextGrad, plain.TextGrad.Length), Tensor.FromArray(ckpt.TextGrad, ckpt.TextGrad.Length));
            Assert.True(err < 1e-5, $"{blocks} checkpointed blocks: text gradient max rel error {err:E3}");
        }
        // GradientCheckpointing is shorthand for all or none
        model.GradientCheckpointing = true;
        Assert.Equal(int.MaxValue, model.CheckpointBlocks);
        model.CheckpointBlocks = 1;
        Assert.True(model.GradientCheckpointing);
        model.GradientCheckpointing = false;
        Assert.Equal(0, model.CheckpointBlocks);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CheckpointBlocks = -1);
        Assert.Contains(plain.Grad, g => g != 0);
        Assert.Contains(plain.TextGrad, g => g != 0);
    }

    [Fact]
    public void LatentGradientMatchesDirectionalFiniteDifference()
    {
        var io = WanTestUtil.ReadIo();
        var model = WanTransformer3D.Load(WanTestUtil.TinyDir);
        model.Freeze();
        model.GradientCheckpointing = true;
        var rng = new Rng(11);
        var weights = Tensor.Randn(rng, io["output"].Shape.ToArray());
        var dir = Tensor.Randn(rng, io["latent"].Shape.ToArray());
        double Loss(Tensor latent)
        {
            using var _ = GradMode.NoGrad();
            var v = model.Forward(latent, io["timestep"], io["context_in"]).Span;
            var w = weights.Span;
            double sum = 0;
            for (int i = 0; i < v.Length; i++) sum += (double)v[i] * w[i];
            return sum;
        }
        var x = io["latent"].Clone();
        x.RequiresGrad = true;
        var g = Autograd.Grad(Ops.Sum(Ops.Mul(model.Forward(x, io["timestep"], io["context_in"]), weights)), new[] { x })[0];
        double analytic = 0;
        for (int i = 0; i < g.Numel; i++) analytic += (double)g.Span[i] * dir.Span[i];
        const float eps = 1e-2f;
        double numeric = (Loss(io["latent"] + dir * eps) - Loss(io["latent"] - dir * eps)) / (2 * eps);
        Assert.True(Math.Abs(numeric - analytic) <= 2e-3 * Math.Abs(analytic) + 1e-3, $"directional derivative: autograd {analytic}, finite difference {numeric}");
    }

    [Fact]
    public void ForwardRejectsBadShapesWithShapesInTheMessage()
    {
        var model = new WanTransformer3D(WanTransformerConfig.Tiny);
        var t = Tensor.FromArray(new[] { 1f }, 1);
        var text = Tensor.Zeros(1, 3, 16);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(1, 4, 1, 3, 4), t, text));
        Assert.Contains("[1, 4, 1, 3, 4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(1, 5, 1, 2, 2), t, text));
        Assert.Contains("[B, 4, F, H, W]", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(1, 4, 1, 2, 2), t, Tensor.Zeros(1, 3, 8)));
        Assert.Contains("text context", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(2, 4, 1, 2, 2), Tensor.Zeros(3), Tensor.Zeros(2, 3, 16)));
        Assert.Contains("timestep", e.Message);
    }
}
