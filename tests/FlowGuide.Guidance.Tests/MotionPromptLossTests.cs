using FlowGuide.Models.Flow;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>The loss terms, and the whole objective's gradient with respect to the token embeddings against finite differences.</summary>
public class MotionPromptLossTests
{
    [Fact]
    public void TotalVariationMatchesTheFormula()
    {
        // one flow [1, 2, 2, 3]: u = [[0, 1, 3], [2, 2, 2]], v = 0
        var f = Tensor.FromArray(new float[] { 0, 1, 3, 2, 2, 2, 0, 0, 0, 0, 0, 0 }, 1, 2, 2, 3);
        // vertical |0-2| + |1-2| + |3-2| = 4; horizontal |0-1| + |1-3| + |2-2| + |2-2| = 3
        Assert.Equal(7f, MotionPromptLoss.TotalVariation(f, TvReduction.Sum).Item(), 5);
        // 2 channels x (3 vertical + 4 horizontal) = 14 differences
        Assert.Equal(7f / 14f, MotionPromptLoss.TotalVariation(f, TvReduction.Mean).Item(), 5);
        // a batch averages the per-flow sums
        var two = Ops.Concat(new[] { f, Ops.MulScalar(f, 3f) }, 0);
        Assert.Equal((7f + 21f) / 2, MotionPromptLoss.TotalVariation(two).Item(), 4);
    }

    [Fact]
    public void DiscriminatorTermIsLogOfOneMinusSigmoidAndStable()
    {
        var logits = Tensor.FromArray(new float[] { -3f, 0f, 2.5f }, 3);
        double expected = new[] { -3.0, 0.0, 2.5 }.Average(x => Math.Log(1 - 1 / (1 + Math.Exp(-x))));
        Assert.Equal(expected, MotionPromptLoss.DiscriminatorTerm(logits).Item(), 5);
        var extreme = MotionPromptLoss.DiscriminatorTerm(Tensor.FromArray(new float[] { 200f, -200f }, 2)).Item();
        Assert.Equal(-100f, extreme, 3); // log(1 - sigmoid(200)) = -200, log(1 - sigmoid(-200)) = 0
    }

    [Fact]
    public void TermGradientsMatchFiniteDifferences()
    {
        // distinct values 0.37 apart: no |difference| is near the kink of |.| at the finite-difference step
        var order = Enumerable.Range(0, 120).OrderBy(i => (i * 7919) % 120 + 0.5 * (i % 2)).Select(i => i * 0.37f).ToArray();
        var flow = Tensor.FromArray(order, 2, 2, 5, 6);
        var logits = Tensor.Randn(new Rng(9), 4);
        var t = Tensor.Randn(new Rng(10), 1, 2, 3);
        var t0 = Tensor.Randn(new Rng(11), 1, 2, 3);
        GradCheck(x => MotionPromptLoss.TotalVariation(x, TvReduction.Sum), flow);
        GradCheck(x => MotionPromptLoss.TotalVariation(x, TvReduction.Mean), flow);
        GradCheck(MotionPromptLoss.DiscriminatorTerm, logits);
        GradCheck(x => MotionPromptLoss.Regularization(x, t0), t);
    }

    /// <summary>
    /// The full chain at a tiny size: T → text encoder → Tiny Wan (CFG) → zhat0 → Tiny VAE decode of two pairs →
    /// ClassicalFlow → discriminator. With l3 = 0 every bit of gradient must have come through that chain.
    /// </summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(10.0)]
    public void ObjectiveGradientReachesTheTokensThroughTheWholeChain(double l3)
    {
        var parts = new MotionPromptTestParts();
        // the exact gradient: through the causal decoder's history as well (latent frame 0 precedes the pairs' frames 1..4)
        var options = MotionPromptTestParts.Options(0, 1) with { RegularizationWeight = l3, Tv = TvReduction.Mean, DecoderHistoryGradient = true };
        var (objective, t0, t) = parts.Objective(options);

        // 1. autograd: d L / d T, and nothing else picks up a gradient
        var leaf = t.DetachedLeaf();
        Tensor grad;
        using (GradMode.EnableGrad())
        {
            var r = objective.Evaluate(leaf);
            Assert.Equal(new[] { 2, 2, 16, 16 }, r.Flow.Shape.ToArray());
            grad = Autograd.Grad(r.Loss, new[] { leaf })[0];
        }
        Assert.True(grad.Span.ToArray().Any(g => Math.Abs(g) > 1e-6), "the tokens got no gradient");
        foreach (var m in new FlowGuide.Nn.Module[] { parts.Text, parts.Vae, parts.Wan, parts.Discriminator })
            Assert.All(m.Parameters(), w => Assert.Null(w.Grad));

        // 2. central differences along random directions
        double Loss(Tensor x) { using var _ = GradMode.NoGrad(); return objective.Evaluate(x).Loss.Item(); }
        for (int k = 0; k < 3; k++)
        {
            var dir = Tensor.Randn(new Rng(20 + (ulong)k), t.Shape.ToArray());
            double analytic = 0;
            for (int i = 0; i < dir.Numel; i++) analytic += (double)grad.Span[i] * dir.Span[i];
            const float eps = 3e-3f; // the loss is float32: smaller steps drown in rounding, larger ones in curvature
            double fd = (Loss(Ops.Add(t, Ops.MulScalar(dir, eps))) - Loss(Ops.Add(t, Ops.MulScalar(dir, -eps)))) / (2 * eps);
            Assert.True(Math.Abs(fd - analytic) <= 3e-2 * Math.Abs(fd) + 2e-4,
                $"direction {k}: autograd {analytic}, finite difference {fd}");
        }
    }

    private static void GradCheck(Func<Tensor, Tensor> f, Tensor x, float eps = 1e-2f)
    {
        var leaf = x.DetachedLeaf();
        Tensor g;
        using (GradMode.EnableGrad()) g = Autograd.Grad(f(leaf), new[] { leaf })[0];
        double Eval(Tensor y) { using var _ = GradMode.NoGrad(); return f(y).Item(); }
        for (int i = 0; i < x.Numel; i++)
        {
            var p = x.Clone(); p.Span[i] += eps;
            var m = x.Clone(); m.Span[i] -= eps;
            double fd = (Eval(p) - Eval(m)) / (2 * eps);
            Assert.True(Math.Abs(fd - g.Span[i]) <= 2e-2 * Math.Abs(fd) + 2e-3, $"element {i}: autograd {g.Span[i]}, finite difference {fd}");
        }
    }
}
