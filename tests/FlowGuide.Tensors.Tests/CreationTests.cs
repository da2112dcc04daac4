using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Creation and access: constant fills, ranges, Item, the indexer, Clone and Detach.</summary>
public class CreationTests
{
    [Fact]
    public void ConstantFills()
    {
        var z = Tensor.Zeros(2, 3);
        Assert.Equal(new Shape(2, 3), z.Shape);
        Assert.All(z.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(Tensor.Ones(4).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(Tensor.Full(-2.5f, 3, 1, 2).ToArray(), v => Assert.Equal(-2.5f, v));
        Assert.Equal(0, Tensor.Zeros(0, 5).Numel);
        var s = Tensor.Scalar(3f);
        Assert.Equal(0, s.Rank);
        Assert.Equal(1, s.Numel);
        Assert.Equal(3f, s.Item());
        Assert.Equal(new Shape(2, 3), Tensor.ZerosLike(z).Shape);
        Assert.All(Tensor.OnesLike(z).ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void ZerosAreZeroEvenWhenThePoolHandsBackADirtyBuffer()
    {
        for (int i = 0; i < 3; i++)
        {
            var dirty = Tensor.Full(7f, 123);
            dirty.Dispose();
            Assert.All(Tensor.Zeros(123).ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void FromArrayCopiesAndChecksCount()
    {
        var data = new[] { 1f, 2f, 3f, 4f, 5f, 6f };
        var t = Tensor.FromArray(data, 2, 3);
        data[0] = 99f;
        Assert.Equal(1f, t[0, 0]);
        Assert.Equal(6f, t[1, 2]);
        var d = Tensor.FromArray(new[] { 0.5, 1.5 }, 2);
        Assert.Equal(new[] { 0.5f, 1.5f }, d.ToArray());
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new[] { 1f, 2f, 3f }, 2, 2));
        Assert.Contains("FromArray", e.Message);
        Assert.Contains("[2, 2]", e.Message);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new[] { 1.0 }, 2));
    }

    [Fact]
    public void ArangeIntegerFractionalAndNegativeSteps()
    {
        Assert.Equal(new[] { 0f, 1f, 2f, 3f, 4f }, Tensor.Arange(5).ToArray());
        Assert.Equal(new[] { 2f, 4f, 6f }, Tensor.Arange(2, 7, 2).ToArray());
        var f = Tensor.Arange(0f, 1f, 0.1f);
        Assert.Equal(10, f.Numel);
        for (int i = 0; i < 10; i++) Assert.Equal(i * 0.1f, f[i], 6);
        Assert.Equal(new[] { 0f, 0.25f, 0.5f, 0.75f }, Tensor.Arange(0f, 1f, 0.25f).ToArray());
        Assert.Equal(new[] { 5f, 4f, 3f, 2f, 1f }, Tensor.Arange(5, 0, -1).ToArray());
        Assert.Equal(new[] { 1f, 0.5f, 0f, -0.5f }, Tensor.Arange(1f, -0.75f, -0.5f).ToArray());
        Assert.Equal(0, Tensor.Arange(0, 5, -1).Numel);
        Assert.Equal(0, Tensor.Arange(3, 3).Numel);
        Assert.Throws<ArgumentException>(() => Tensor.Arange(0, 1, 0));
    }

    [Fact]
    public void LinspaceCountsAndExactEndpoints()
    {
        Assert.Equal(0, Tensor.Linspace(0, 1, 0).Numel);
        Assert.Equal(new[] { 2f }, Tensor.Linspace(2, 5, 1).ToArray());
        var l = Tensor.Linspace(-1, 1, 5);
        Assert.Equal(new[] { -1f, -0.5f, 0f, 0.5f, 1f }, l.ToArray());
        var u = Tensor.Linspace(0.1, 0.7, 7);
        Assert.Equal(0.1f, u[0]);
        Assert.Equal(0.7f, u[6]);
        var r = Tensor.Linspace(1, 0, 3);
        Assert.Equal(new[] { 1f, 0.5f, 0f }, r.ToArray());
        Assert.Throws<ArgumentException>(() => Tensor.Linspace(0, 1, -1));
    }

    [Fact]
    public void ItemRequiresOneElement()
    {
        Assert.Equal(4f, Tensor.Full(4f, 1, 1).Item());
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).Item());
        Assert.Contains("Item", e.Message);
        Assert.Contains("[2]", e.Message);
    }

    [Fact]
    public void IndexerReadsWritesAndChecksBounds()
    {
        var t = Tensor.Arange(0, 12).Reshape(3, 4);
        Assert.Equal(6f, t[1, 2]);
        Assert.Equal(11f, t[-1, -1]);
        t[2, 0] = -5f;
        Assert.Equal(-5f, t.Span[8]);
        Assert.Throws<IndexOutOfRangeException>(() => t[3, 0]);
        Assert.Throws<IndexOutOfRangeException>(() => t[0, -5]);
        var e = Assert.Throws<ArgumentException>(() => t[1]);
        Assert.Contains("[3, 4]", e.Message);
        Assert.Equal(3f, Tensor.Scalar(3f)[System.Array.Empty<int>()]);
    }

    [Fact]
    public void CloneCopiesAndDetachShares()
    {
        var x = Leaf(Randn(1, 2, 3));
        var y = x * 2f;
        var c = y.Clone();
        Assert.Null(c.GradFn);
        Assert.False(c.RequiresGrad);
        c[0, 0] = 100f;
        Assert.NotEqual(100f, y[0, 0]);
        var d = y.Detach();
        Assert.Null(d.GradFn);
        Assert.False(d.RequiresGrad);
        d[0, 0] = 100f;
        Assert.Equal(100f, y[0, 0]);
        var leaf = y.DetachedLeaf();
        Assert.True(leaf.RequiresGrad && leaf.IsLeaf);
        // A detached value used in a graph gets no gradient back to x.
        Ops.Sum(d * x).Backward();
        AssertClose(d, x.Grad!);
    }
}
