using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Nn.Tests;

/// <summary>A miniature of the diffusers Wan block layout, to check the dotted names modules produce.</summary>
internal sealed class GeluProj : Module
{
    public GeluProj(int i, int o, Rng rng) => Proj = Child("proj", new Linear(i, o, true, rng));
    public Linear Proj { get; }
}

internal sealed class FeedForward : Module
{
    public FeedForward(int d, int h, Rng rng)
    {
        Net = Child("net", new ModuleList<Module>(new Module[] { new GeluProj(d, h, rng), new Dropout(0.5f, rng), new Linear(h, d, true, rng) }));
    }

    public ModuleList<Module> Net { get; }

    public Tensor Forward(Tensor x)
    {
        var h = Ops.Gelu(((GeluProj)Net[0]).Proj.Forward(x));
        h = ((Dropout)Net[1]).Forward(h);
        return ((Linear)Net[2]).Forward(h);
    }
}

internal sealed class ToyAttn : Module
{
    public ToyAttn(int d, Rng rng)
    {
        ToQ = Child("to_q", new Linear(d, d, true, rng));
        ToOut = Child("to_out", new ModuleList<Linear>(new[] { new Linear(d, d, true, rng) }));
    }

    public Linear ToQ { get; }
    public ModuleList<Linear> ToOut { get; }
}

internal sealed class ToyBlock : Module
{
    public ToyBlock(int d, Rng rng)
    {
        Table = Parameter("scale_shift_table", Init.Normal(rng, 0.02f, 1, 6, d));
        Attn1 = Child("attn1", new ToyAttn(d, rng));
        Ffn = Child("ffn", new FeedForward(d, 2 * d, rng));
    }

    public Tensor Table { get; }
    public ToyAttn Attn1 { get; }
    public FeedForward Ffn { get; }
}

internal sealed class ToyModel : Module
{
    public ToyModel(int d, int layers, ulong seed)
    {
        var rng = new Rng(seed);
        Blocks = Child("blocks", new ModuleList<ToyBlock>(Enumerable.Range(0, layers).Select(_ => new ToyBlock(d, rng))));
        ProjOut = Child("proj_out", new Linear(d, 4, true, rng));
    }

    public ModuleList<ToyBlock> Blocks { get; }
    public Linear ProjOut { get; }

    public Tensor Forward(Tensor x)
    {
        foreach (var b in Blocks.Items) x = x + b.Ffn.Forward(b.Attn1.ToOut[0].Forward(b.Attn1.ToQ.Forward(x)));
        return ProjOut.Forward(x);
    }
}

public class ModuleTests
{
    [Fact]
    public void NamesFollowTheDiffusersLayout()
    {
        var names = new ToyModel(8, 2, 0).NamedParameters().Select(p => p.Key).ToList();
        Assert.Contains("blocks.0.scale_shift_table", names);
        Assert.Contains("blocks.1.attn1.to_q.weight", names);
        Assert.Contains("blocks.1.attn1.to_out.0.bias", names);
        Assert.Contains("blocks.0.ffn.net.0.proj.weight", names);
        Assert.Contains("blocks.0.ffn.net.2.bias", names);
        Assert.Contains("proj_out.weight", names);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.DoesNotContain(names, n => n.Contains("net.1")); // dropout has no parameters
    }

    [Fact]
    public void ParameterCountAddsEveryElement()
    {
        var m = new ToyModel(8, 2, 0);
        long perBlock = 6 * 8 + 2 * (8 * 8 + 8) + (8 * 16 + 16) + (16 * 8 + 8);
        Assert.Equal(2 * perBlock + 8 * 4 + 4, m.ParameterCount);
    }

    [Fact]
    public void SameSeedSameWeightsDifferentSeedDifferent()
    {
        var a = new ToyModel(8, 2, 5).StateDict();
        var b = new ToyModel(8, 2, 5).StateDict();
        var c = new ToyModel(8, 2, 6).StateDict();
        foreach (var k in a.Keys) Assert.Equal(a[k].ToArray(), b[k].ToArray());
        Assert.NotEqual(a["proj_out.weight"].ToArray(), c["proj_out.weight"].ToArray());
    }

    [Fact]
    public void LinearInitMatchesPyTorchDefaultBounds()
    {
        var l = new Linear(400, 300, true, new Rng(1));
        float bound = 1f / MathF.Sqrt(400);
        var w = l.Weight.ToArray();
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        double std = Math.Sqrt(w.Select(v => (double)v * v).Average());
        Assert.InRange(std, bound / Math.Sqrt(3) * 0.97, bound / Math.Sqrt(3) * 1.03); // std of U(-b, b)
        Assert.All(l.Bias!.ToArray(), v => Assert.InRange(v, -bound, bound));
    }

    [Fact]
    public void FreezeStopsParameterGradientsButNotInputGradients()
    {
        var m = new ToyModel(8, 1, 0);
        m.Freeze();
        Assert.All(m.Parameters(), p => Assert.False(p.RequiresGrad));
        var x = Tensor.Randn(new Rng(3), 4, 8).DetachedLeaf();
        var g = Autograd.Grad(Ops.Sum(Ops.Square(m.Forward(x))), new[] { x })[0];
        Assert.Contains(g.ToArray(), v => v != 0);
        Assert.All(m.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void DropoutIsIdentityInEvalAndScalesInTraining()
    {
        var d = new Dropout(0.25f, new Rng(1));
        var x = Tensor.Ones(10000);
        d.Eval();
        Assert.Same(x, d.Forward(x));
        d.Train();
        var y = d.Forward(x).ToArray();
        Assert.All(y, v => Assert.True(v == 0f || Math.Abs(v - 4f / 3f) < 1e-6));
        Assert.InRange(y.Count(v => v == 0f) / 10000.0, 0.22, 0.28);
    }

    [Fact]
    public void TrainAndEvalPropagateToChildren()
    {
        var m = new ToyModel(8, 2, 0);
        m.Eval();
        Assert.False(m.Blocks[1].Ffn.Net[1].Training);
        m.Train();
        Assert.True(m.Blocks[1].Ffn.Net[1].Training);
    }

    [Fact]
    public void StrictLoadReportsEveryProblemInOneMessage()
    {
        var src = new ToyModel(8, 2, 1).StateDict();
        src.Remove("blocks.1.attn1.to_q.weight");
        src["blocks.7.extra.weight"] = Tensor.Zeros(2);
        src["proj_out.bias"] = Tensor.Zeros(5);
        var dst = new ToyModel(8, 2, 2);
        var ex = Assert.Throws<StateDictMismatchException>(() => dst.LoadStateDict(src));
        Assert.Contains("blocks.1.attn1.to_q.weight", ex.Message);
        Assert.Contains("blocks.7.extra.weight", ex.Message);
        Assert.Contains("proj_out.bias: checkpoint [5], model [4]", ex.Message);
        Assert.Single(ex.Report.Missing);
        Assert.Single(ex.Report.Unexpected);
        Assert.Single(ex.Report.ShapeMismatches);
    }

    [Fact]
    public void NonStrictLoadCopiesWhatMatches()
    {
        var srcModel = new ToyModel(8, 2, 1);
        var src = srcModel.StateDict();
        src.Remove("proj_out.weight");
        var dst = new ToyModel(8, 2, 2);
        var before = dst.ProjOut.Weight.ToArray();
        var report = dst.LoadStateDict(src, strict: false);
        Assert.Equal(new[] { "proj_out.weight" }, report.Missing);
        Assert.Equal(srcModel.Blocks[1].Attn1.ToQ.Weight.ToArray(), dst.Blocks[1].Attn1.ToQ.Weight.ToArray());
        Assert.Equal(before, dst.ProjOut.Weight.ToArray());
    }

    [Fact]
    public void DuplicateMemberNamesAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Twice());
        Assert.Contains("registered twice", ex.Message);
    }

    private sealed class Twice : Module
    {
        public Twice()
        {
            Parameter("w", Tensor.Zeros(1));
            Parameter("w", Tensor.Zeros(1));
        }
    }

    [Fact]
    public void CausalConv3dChunkedWithCacheEqualsWholeVideo()
    {
        var conv = new Conv3d(3, 4, new[] { 3, 3, 3 }, new Rng(2), padding: new[] { 1, 1, 1 }, causal: true);
        var x = Tensor.Randn(new Rng(9), 1, 3, 9, 6, 6);
        using var _ = GradMode.NoGrad();
        var whole = conv.Forward(x);
        var parts = new List<Tensor>();
        Tensor? cache = null;
        foreach (var (start, len) in new[] { (0, 1), (1, 4), (5, 4) })
        {
            var chunk = Ops.Narrow(x, 2, start, len);
            parts.Add(conv.Forward(chunk, cache));
            var withCache = cache is null ? chunk : Ops.Concat(new[] { cache, chunk }, 2);
            int keep = Math.Min(conv.TimePadding, withCache.Size(2));
            cache = Ops.Narrow(withCache, 2, withCache.Size(2) - keep, keep);
        }
        var chunked = Ops.Concat(parts, 2);
        Assert.Equal(whole.Shape, chunked.Shape);
        var a = whole.ToArray(); var b = chunked.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-5f, $"element {i}: {b[i]} vs {a[i]}");
    }
}
