using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Flow;

/// <summary>
/// The precomputed paths RaftSmall's loop runs (ConvGru.Prepare/Step, CorrelationLookup) against the plain compositions
/// they replace: same values and same gradients, plus finite differences of the fused GRU step itself.
/// </summary>
public sealed class RaftSmallFusedTests
{
    private static Tensor Randn(ulong seed, params int[] shape) => Tensor.Randn(new Rng(seed), shape);

    [Fact]
    public void GruStepMatchesForwardOnTheConcatenatedInputInValueAndGradient()
    {
        const int hidden = 5, constant = 3, varying = 4;
        var gru = new ConvGru(hidden, constant + varying, new Rng(11));
        var h = Randn(1, 2, hidden, 4, 6).DetachedLeaf();
        var c = Randn(2, 2, constant, 4, 6).DetachedLeaf();
        var v = Randn(3, 2, varying, 4, 6).DetachedLeaf();
        var weights = Randn(4, 2, hidden, 4, 6);
        var parameters = gru.Parameters().ToList();
        var inputs = new[] { h, c, v }.Concat(parameters).ToArray();

        var plain = gru.Forward(h, Ops.Concat(new[] { c, v }, 1));
        var plainGrads = Autograd.Grad(plain.Mul(weights).Sum(), inputs);
        // two steps from one Prepare: the prepared constant part is reused, as in RaftSmall's loop
        var prepared = gru.Prepare(c);
        var fused = gru.Step(prepared, h, v);
        var fusedGrads = Autograd.Grad(fused.Mul(weights).Sum(), inputs);

        FlowTestUtil.AssertClose(plain, fused, 1e-5, "output");
        for (int i = 0; i < inputs.Length; i++) FlowTestUtil.AssertClose(plainGrads[i]!, fusedGrads[i]!, 1e-4, $"gradient {i}");
        var again = gru.Step(prepared, fused.Detach(), v);
        FlowTestUtil.AssertClose(gru.Forward(fused.Detach(), Ops.Concat(new[] { c, v }, 1)), again, 1e-5, "second step");
        Assert.Throws<ArgumentException>(() => gru.Prepare(Randn(5, 2, constant + varying + 1, 4, 6)));
    }

    [Fact]
    public void GruStepGradientsMatchFiniteDifferences()
    {
        const int hidden = 3, constant = 2, varying = 2;
        var gru = new ConvGru(hidden, constant + varying, new Rng(12));
        var h = Randn(6, 1, hidden, 3, 4); var c = Randn(7, 1, constant, 3, 4); var v = Randn(8, 1, varying, 3, 4);
        var weights = Randn(9, 1, hidden, 3, 4);
        var convq = gru.NamedParameters().First(p => p.Key == "convq.weight").Value;
        var xs = new[] { h, c, v, convq };

        double Loss()
        {
            using var _ = GradMode.NoGrad();
            var o = gru.Step(gru.Prepare(c), h, v).Span; var w = weights.Span;
            double s = 0;
            for (int i = 0; i < o.Length; i++) s += (double)o[i] * w[i];
            return s;
        }

        var leaves = new[] { h.DetachedLeaf(), c.DetachedLeaf(), v.DetachedLeaf() };
        var loss = gru.Step(gru.Prepare(leaves[1]), leaves[0], leaves[2]).Mul(weights).Sum();
        var grads = Autograd.Grad(loss, new[] { leaves[0], leaves[1], leaves[2], convq });
        const float eps = 1e-2f;
        for (int k = 0; k < xs.Length; k++)
        {
            var sp = xs[k].Span;
            for (int i = 0; i < sp.Length; i += 3)
            {
                float old = sp[i];
                sp[i] = old + eps; double lp = Loss();
                sp[i] = old - eps; double lm = Loss();
                sp[i] = old;
                double fd = (lp - lm) / (2 * eps), ad = grads[k]!.Span[i];
                Assert.True(Math.Abs(fd - ad) < 2e-3 + 2e-2 * Math.Abs(fd), $"input {k} element {i}: finite difference {fd}, autograd {ad}");
            }
        }
    }

    /// <summary>The look-up as RaftSmall first wrote it: grid built from scratch per level and call.</summary>
    private static Tensor PlainLookup(List<Tensor> pyramid, Tensor coords, int radius, int levels)
    {
        int n = coords.Size(0), h = coords.Size(2), w = coords.Size(3), k = 2 * radius + 1;
        var centre = coords.Permute(0, 2, 3, 1).Reshape(n * h * w, 1, 1, 2);   // [N hw, 1, 1, 2]
        var delta = new float[k * k * 2];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) { delta[(i * k + j) * 2] = j - radius; delta[(i * k + j) * 2 + 1] = i - radius; }
        var offsets = Tensor.FromArray(delta, 1, k, k, 2);
        var outs = new List<Tensor>();
        for (int l = 0; l < pyramid.Count; l++)
        {
            int lh = pyramid[l].Size(2), lw = pyramid[l].Size(3);
            var scale = Tensor.FromArray(new[] { 2f / lw, 2f / lh }, 1, 1, 1, 2);
            var shift = Tensor.FromArray(new[] { 1f / lw - 1f, 1f / lh - 1f }, 1, 1, 1, 2);
            var grid = centre.MulScalar(1f / (1 << l)).Add(offsets).Mul(scale).Add(shift); // [N hw, k, k, 2]
            var s = Ops.GridSample(pyramid[l], grid, alignCorners: false, GridPadding.Zeros);
            outs.Add(s.Reshape(n, h, w, k * k).Permute(0, 3, 1, 2));            // [N, k k, h, w]
        }
        for (int l = pyramid.Count; l < levels; l++) outs.Add(Tensor.Zeros(n, k * k, h, w));
        return Ops.Concat(outs, 1);
    }

    [Fact]
    public void LookupMatchesThePlainCompositionInValueAndGradient()
    {
        var f1 = Randn(21, 2, 4, 4, 6); var f2 = Randn(22, 2, 4, 4, 6);
        // 4x6 -> 2x3 -> 1x1: three levels exist, a fourth is zero-filled
        var levels = RaftSmall.CorrelationPyramid(f1, f2, 4).Select(t => t.DetachedLeaf()).ToList();
        Assert.Equal(3, levels.Count);
        var jitter = Randn(23, 2, 2, 4, 6).MulScalar(1.7f);                   // off-grid, some outside the image
        var coords = RaftSmall.CoordinateGrid(2, 4, 6).Add(jitter).DetachedLeaf();
        var weights = Randn(24, 2, 4 * 9, 4, 6);
        var inputs = levels.Append(coords).ToArray();

        var plain = PlainLookup(levels, coords, radius: 1, levels: 4);
        var fused = RaftSmall.Lookup(levels, coords, radius: 1, levels: 4);
        FlowTestUtil.AssertClose(plain, fused, 1e-5, "look-up");
        var plainGrads = Autograd.Grad(plain.Mul(weights).Sum(), inputs);
        var fusedGrads = Autograd.Grad(fused.Mul(weights).Sum(), inputs);
        for (int i = 0; i < inputs.Length; i++) FlowTestUtil.AssertClose(plainGrads[i]!, fusedGrads[i]!, 1e-4, $"gradient {i}");
    }
}
