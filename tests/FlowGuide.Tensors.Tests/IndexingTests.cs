using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

public class IndexingTests
{
    [Fact]
    public void IndexSelectPicksSlicesWithRepeats()
    {
        var x = Tensor.Arange(24).Reshape(2, 3, 4);
        var y = x.IndexSelect(1, new[] { 2, 0, 2 });
        Assert.Equal(new Shape(2, 3, 4), y.Shape);
        for (int b = 0; b < 2; b++)
        for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            Assert.Equal(x[b, new[] { 2, 0, 2 }[j], k], y[b, j, k]);
    }

    [Fact]
    public void IndexSelectOnPermutedInputAndLastAxis()
    {
        var x = Randn(1, 3, 5, 2).Permute(2, 0, 1); // [2, 3, 5]
        var idx = new[] { 4, 4, 1, 0 };
        var y = x.IndexSelect(-1, idx);
        for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
        for (int j = 0; j < idx.Length; j++)
            Assert.Equal(x[a, b, idx[j]], y[a, b, j]);
    }

    [Fact]
    public void IndexSelectBackwardAddsRepeats()
    {
        var x = Leaf(Randn(2, 4, 3));
        Ops.Sum(x.IndexSelect(0, new[] { 1, 1, 3, 1 })).Backward();
        AssertClose(new[] { 0f, 9f, 0f, 3f }, x.Grad!.Sum(1).Span);
        GradCheck(t => t[0].IndexSelect(1, new[] { 2, 0, 2, 2 }), new[] { Leaf(Randn(3, 2, 3, 5)) });
    }

    [Fact]
    public void IndexSelectErrorNamesOpAxisIndexAndSize()
    {
        var x = Randn(1, 2, 3);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => x.IndexSelect(1, new[] { 0, 3 }));
        Assert.Contains("IndexSelect", ex.Message);
        Assert.Contains("index 3", ex.Message);
        Assert.Contains("axis 1", ex.Message);
        Assert.Contains("size 3", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => x.IndexSelect(0, new[] { -1 }));
    }

    [Fact]
    public void GatherMatchesTorchDocExample()
    {
        // torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]])) == [[1, 1], [4, 3]]
        var t = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 2, 2);
        AssertClose(new[] { 1f, 1f, 4f, 3f }, t.Gather(1, new[] { 0, 0, 1, 0 }, new[] { 2, 2 }).Span);
        // Along axis 0 with an index smaller than the input on the other axis: out[i][j] = t[index[i][j]][j].
        var x = Tensor.Arange(12).Reshape(3, 4);
        var y = x.Gather(0, new[] { 2, 0, 1, 1, 0, 0 }, new[] { 3, 2 });
        AssertClose(new[] { 8f, 1f, 4f, 5f, 0f, 1f }, y.Span);
    }

    [Fact]
    public void GatherMiddleAxisMatchesDefinition()
    {
        var x = Randn(3, 2, 5, 3);
        var rng = new Random(4);
        int[] ishape = { 2, 7, 2 };
        var idx = Enumerable.Range(0, 28).Select(_ => rng.Next(5)).ToArray();
        var y = x.Gather(1, idx, ishape);
        for (int a = 0; a < 2; a++)
        for (int b = 0; b < 7; b++)
        for (int c = 0; c < 2; c++)
            Assert.Equal(x[a, idx[(a * 7 + b) * 2 + c], c], y[a, b, c]);
    }

    [Fact]
    public void GatherAndScatterAddGradCheck()
    {
        var rng = new Random(5);
        int[] ishape = { 3, 6, 2 };
        var idx = Enumerable.Range(0, 36).Select(_ => rng.Next(4)).ToArray();
        GradCheck(t => t[0].Gather(1, idx, ishape), new[] { Leaf(Randn(6, 3, 4, 3)) });
        GradCheck(t => t[0].Gather(2, new[] { 1, 1, 0, 2, 2, 2 }, new[] { 1, 2, 3 }), new[] { Leaf(Randn(7, 2, 2, 3)) });
        GradCheck(t => t[0].ScatterAdd(1, idx, ishape, t[1]), new[] { Leaf(Randn(8, 3, 4, 3)), Leaf(Randn(9, ishape)) });
    }

    [Fact]
    public void ScatterAddAccumulatesRepeatedTargets()
    {
        var x = Tensor.Zeros(2, 3);
        var src = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, 2, 3);
        var y = x.ScatterAdd(1, new[] { 0, 0, 2, 1, 1, 1 }, new[] { 2, 3 }, src);
        AssertClose(new[] { 3f, 0f, 3f, 0f, 15f, 0f }, y.Span);
        var z = x.ScatterAdd(0, new[] { 1, 1, 1 }, new[] { 1, 3 }, Tensor.Ones(1, 3));
        AssertClose(new[] { 0f, 0f, 0f, 1f, 1f, 1f }, z.Span);
    }

    [Fact]
    public void GatherValidatesShapes()
    {
        var x = Randn(1, 3, 4);
        Assert.Contains("rank", Assert.Throws<ArgumentException>(() => x.Gather(0, new[] { 0 }, new[] { 1 })).Message);
        Assert.Contains("axis 1", Assert.Throws<ArgumentException>(() => x.Gather(0, new int[10], new[] { 2, 5 })).Message);
        Assert.Contains("fill", Assert.Throws<ArgumentException>(() => x.Gather(0, new int[3], new[] { 2, 2 })).Message);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => x.Gather(1, new[] { 0, 4 }, new[] { 1, 2 }));
        Assert.Contains("Gather: index 4", ex.Message);
        Assert.Contains("axis 1 of size 4", ex.Message);
        Assert.Contains("src", Assert.Throws<ArgumentException>(() => x.ScatterAdd(1, new[] { 0, 1 }, new[] { 1, 2 }, Tensor.Zeros(2))).Message);
    }

    [Fact]
    public void LargeSizesSplitAcrossThreadsAndBackwardIsTheAdjoint()
    {
        var x = Randn(40, 6, 300, 41);
        var rng = new Random(41);
        var sel = Enumerable.Range(0, 500).Select(_ => rng.Next(300)).ToArray();
        var y = x.IndexSelect(1, sel);
        for (int k = 0; k < 200; k++)
        {
            int a = rng.Next(6), j = rng.Next(500), c = rng.Next(41);
            Assert.Equal(x[a, sel[j], c], y[a, j, c]);
        }
        AssertAdjoint(t => t.IndexSelect(1, sel), x, 42);
        AssertAdjoint(t => t.IndexSelect(2, sel.Select(v => v % 41).ToArray()), x, 43);
        int[] ishape = { 6, 200, 41 };
        var idx = Enumerable.Range(0, 6 * 200 * 41).Select(_ => rng.Next(300)).ToArray();
        var z = x.Gather(1, idx, ishape);
        for (int k = 0; k < 200; k++)
        {
            int a = rng.Next(6), j = rng.Next(200), c = rng.Next(41);
            Assert.Equal(x[a, idx[(a * 200 + j) * 41 + c], c], z[a, j, c]);
        }
        AssertAdjoint(t => t.Gather(1, idx, ishape), x, 44);
        AssertAdjoint(t => t.Gather(0, idx.Select(v => v % 6).ToArray(), ishape), x, 45);
    }
}
