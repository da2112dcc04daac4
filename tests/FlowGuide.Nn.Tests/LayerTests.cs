using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Nn.Tests;

public class LayerTests
{
    [Fact]
    public void AttentionHasDiffusersNames()
    {
        var names = new MultiHeadAttention(12, 3, new Rng(0), qkNorm: true).NamedParameters().Select(p => p.Key).ToHashSet();
        foreach (var n in new[] { "to_q.weight", "to_q.bias", "to_k.weight", "to_v.bias", "to_out.0.weight", "to_out.0.bias", "norm_q.weight", "norm_k.weight" })
            Assert.Contains(n, names);
        Assert.Equal(10, names.Count);
    }

    [Fact]
    public void AttentionMatchesTheComposedDefinition()
    {
        var rng = new Rng(1);
        var mha = new MultiHeadAttention(12, 3, rng, contextDim: 5, qkNorm: true);
        var x = Tensor.Randn(rng, 2, 7, 12);
        var ctx = Tensor.Randn(rng, 2, 4, 5);
        using var _ = GradMode.NoGrad();
        var got = mha.Forward(x, ctx);
        // By hand: RMS-normalised projections, split, softmax(q k^T / sqrt(dh)) v, merge, out.
        var q = mha.SplitHeads(Ops.RmsNorm(Ops.Linear(x, mha.ToQ.Weight, mha.ToQ.Bias), mha.NormQ!.Weight, 1e-6f));
        var k = mha.SplitHeads(Ops.RmsNorm(Ops.Linear(ctx, mha.ToK.Weight, mha.ToK.Bias), mha.NormK!.Weight, 1e-6f));
        var v = mha.SplitHeads(Ops.Linear(ctx, mha.ToV.Weight, mha.ToV.Bias));
        var att = Ops.Matmul(Ops.Softmax(Ops.Matmul(q, Ops.Transpose(k, -1, -2)) * (1f / MathF.Sqrt(4)), -1), v);
        var expected = Ops.Linear(MultiHeadAttention.MergeHeads(att), mha.ToOut[0].Weight, mha.ToOut[0].Bias);
        var e = expected.ToArray(); var g = got.ToArray();
        for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - g[i]) < 1e-5f, $"element {i}: {g[i]} vs {e[i]}");
    }

    [Fact]
    public void NormModulesMatchOps()
    {
        var x = Tensor.Randn(new Rng(2), 3, 8);
        var ln = new LayerNorm(8, 1e-6f, affine: false);
        Assert.Empty(ln.NamedParameters());
        var rms = new RmsNorm(8);
        Assert.Equal(new[] { "weight" }, rms.NamedParameters().Select(p => p.Key));
        var y = rms.Forward(x).ToArray();
        var xs = x.ToArray();
        double ms = xs.Take(8).Select(v => (double)v * v).Average();
        Assert.Equal(xs[0] / Math.Sqrt(ms + 1e-6), y[0], 5);
        var l = ln.Forward(x).ToArray().Take(8).ToArray();
        Assert.Equal(0.0, l.Average(), 5);
    }
}
