using FlowGuide.Models;
using FlowGuide.Models.Flow;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>
/// The settings and code paths that make MotionPrompt cheaper (issue 10's cost budget) must not change what it
/// computes: the two-stage backward gives the single-graph gradient, the checkpointed fraction of transformer blocks
/// does not change the tokens, and the velocity handed to the loop is the loop's own up to rounding.
/// </summary>
public class MotionPromptCostTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TwoStageGradientEqualsTheSingleGraphGradientAndFiniteDifferences(bool historyGradient)
    {
        var parts = new MotionPromptTestParts();
        var options = MotionPromptTestParts.Options(0, 1) with { Tv = TvReduction.Mean, DecoderHistoryGradient = historyGradient };
        var (objective, t0, t) = parts.Objective(options);

        // 1. one graph, one backward
        var leaf = t.DetachedLeaf();
        Tensor expected;
        MotionPromptLossResult single;
        using (GradMode.EnableGrad())
        {
            single = objective.Evaluate(leaf);
            expected = Autograd.Grad(single.Loss, new[] { leaf })[0];
        }
        // 2. two stages split at x0; the results carry no graph and outlive the stage's scope
        var (r, grad) = objective.EvaluateWithGradient(t);
        Assert.False(r.Loss.RequiresGrad || r.Flow.RequiresGrad || grad.RequiresGrad);
        Assert.Equal(single.Loss.Item(), r.Loss.Item());
        Assert.Equal(single.Discriminator.Item(), r.Discriminator.Item());
        Assert.Equal(single.TotalVariation.Item(), r.TotalVariation.Item());
        Assert.Equal(single.Regularization.Item(), r.Regularization.Item());
        Assert.Equal(single.Flow.ToArray(), r.Flow.ToArray());
        Assert.Equal(single.RealProbability, r.RealProbability);
        float scale = expected.ToArray().Max(Math.Abs);
        Assert.True(scale > 1e-6f, "the tokens got no gradient");
        var e = expected.ToArray();
        var a = grad.ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5f * scale, $"element {i}: two-stage {a[i]}, single graph {e[i]}");
        foreach (var m in new FlowGuide.Nn.Module[] { parts.Text, parts.Vae, parts.Wan, parts.Discriminator })
            Assert.All(m.Parameters(), w => Assert.Null(w.Grad));

        // 3. and against central differences along a random direction
        double Loss(Tensor x) { using var _ = GradMode.NoGrad(); return objective.Evaluate(x).Loss.Item(); }
        var dir = Tensor.Randn(new Rng(21), t.Shape.ToArray());
        double analytic = 0;
        for (int i = 0; i < dir.Numel; i++) analytic += (double)a[i] * dir.Span[i];
        const float eps = 3e-3f;
        double fd = (Loss(Ops.Add(t, Ops.MulScalar(dir, eps))) - Loss(Ops.Add(t, Ops.MulScalar(dir, -eps)))) / (2 * eps);
        Assert.True(Math.Abs(fd - analytic) <= 3e-2 * Math.Abs(fd) + 2e-4, $"autograd {analytic}, finite difference {fd}");
    }

    [Fact]
    public void CheckpointedFractionDoesNotChangeTheTokensAndIsRestored()
    {
        (float[] Tokens, double[] Losses) Run(double fraction)
        {
            var parts = new MotionPromptTestParts();
            parts.Wan.CheckpointBlocks = 1; // the caller's setting, to be restored
            var options = MotionPromptTestParts.Options(1, 3) with
            {
                CheckpointFraction = fraction, Iterations = 2, Optimizer = MotionPromptOptimizer.GradientDescent, LearningRate = 0.05,
            };
            var hook = new MotionPromptHook(parts.Discriminator, options);
            int seenBlocks = -1;
            var probe = new ProbeHook(StepWindow.Steps(1, 2)) { Prediction = (_, _) => seenBlocks = parts.Wan.CheckpointBlocks };
            parts.Pipeline.Generate(MotionPromptTestParts.Prompt, MotionPromptTestParts.Generation(), new IGuidanceHook[] { hook, probe });
            Assert.Equal(1, seenBlocks);                 // restored right after the hook's iterations
            Assert.Equal(1, parts.Wan.CheckpointBlocks);
            return (hook.Tokens!.ToArray(), hook.History.Select(r => r.Loss).ToArray());
        }
        var none = Run(0);
        var initial = new MotionPromptTestParts().Text.Embed(new MotionPromptTestParts().Text.Tokenize("the")).ToArray();
        double moved = none.Tokens.Zip(initial, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(moved > 1e-4, $"the tokens moved only {moved}: nothing to compare");
        foreach (double fraction in new[] { 0.5, 1.0 }) // the tiny model's 2 blocks: one checkpointed, both
        {
            var other = Run(fraction);
            Assert.Equal(none.Losses.Length, other.Losses.Length);
            for (int i = 0; i < none.Losses.Length; i++) Assert.Equal(none.Losses[i], other.Losses[i], Math.Max(1e-6, Math.Abs(none.Losses[i]) * 1e-5));
            for (int i = 0; i < none.Tokens.Length; i++)
                Assert.True(Math.Abs(none.Tokens[i] - other.Tokens[i]) <= 1e-4 * moved, $"fraction {fraction}, token element {i}: {other.Tokens[i]} vs {none.Tokens[i]}");
        }
    }

    [Fact]
    public void ReusedVelocitySavesOneUnconditionalPassPerGuidedStepAndMatchesTheLoop()
    {
        var parts = new MotionPromptTestParts();
        var counting = new CountingModel(parts.Wan);
        var pipeline = new TextToVideoPipeline(counting, parts.Text, parts.Vae);
        (float[] Latent, int Samples) Run(bool reuse)
        {
            counting.Samples = 0;
            var hook = new MotionPromptHook(parts.Discriminator, MotionPromptTestParts.Options(1, 3) with { ReuseVelocity = reuse, Iterations = 1 });
            var r = pipeline.Generate(MotionPromptTestParts.Prompt, MotionPromptTestParts.Generation(), new IGuidanceHook[] { hook });
            return (r.Latent.ToArray(), counting.Samples);
        }
        var loop = Run(false);
        var reused = Run(true);
        // 4 steps: 2 plain (a CFG pair each), 2 guided (uncond + 1 taped cond + the final velocity: a pair, or one cond)
        Assert.Equal(2 * 2 + 2 * (1 + 1 + 2), loop.Samples);
        Assert.Equal(loop.Samples - 2, reused.Samples);
        float scale = loop.Latent.Max(Math.Abs);
        for (int i = 0; i < loop.Latent.Length; i++)
            Assert.True(Math.Abs(loop.Latent[i] - reused.Latent[i]) <= 1e-4f * scale, $"latent element {i}: {reused.Latent[i]} vs {loop.Latent[i]}");
    }

    [Fact]
    public void CheckpointFractionIsValidatedAndRoundsUp()
    {
        foreach (double bad in new[] { -0.1, 1.5, double.NaN })
        {
            var e = Assert.Throws<ArgumentException>(() => new MotionPromptOptions { CheckpointFraction = bad }.Validate());
            Assert.Contains("CheckpointFraction", e.Message);
        }
        Assert.Equal(0, MotionPromptHook.CheckpointedBlocks(6, 0));
        Assert.Equal(1, MotionPromptHook.CheckpointedBlocks(6, 0.01));
        Assert.Equal(2, MotionPromptHook.CheckpointedBlocks(6, 1.0 / 3));
        Assert.Equal(3, MotionPromptHook.CheckpointedBlocks(6, 0.5));
        Assert.Equal(6, MotionPromptHook.CheckpointedBlocks(6, 1));
        Assert.Equal(0, MotionPromptHook.CheckpointedBlocks(6, new MotionPromptOptions().CheckpointFraction)); // the default: none
        Assert.Equal(2, MotionPromptHook.CheckpointedBlocks(6, 1.0 / 3));
        Assert.Equal(10, MotionPromptHook.CheckpointedBlocks(30, 1.0 / 3));
    }

    /// <summary>A velocity model that counts the samples (batch rows) it is asked for.</summary>
    private sealed class CountingModel(IVelocityModel inner) : IVelocityModel
    {
        public int Samples;

        public Tensor Forward(Tensor latent, Tensor timestep, Tensor context)
        {
            Samples += latent.Size(0);
            return inner.Forward(latent, timestep, context);
        }
    }
}
