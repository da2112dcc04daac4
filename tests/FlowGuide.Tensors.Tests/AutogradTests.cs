using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

public class AutogradTests
{
    [Fact]
    public void NoTapeWithoutRequiresGrad()
    {
        var a = Randn(1, 3, 4);
        var y = Ops.Exp(a) * a;
        Assert.Null(y.GradFn);
        Assert.False(y.RequiresGrad);
    }

    [Fact]
    public void NoGradScopeRecordsNothing()
    {
        var a = Leaf(Randn(1, 3));
        Tensor y;
        using (GradMode.NoGrad()) y = a * a;
        Assert.Null(y.GradFn);
        Assert.True(GradMode.IsEnabled);
    }

    [Fact]
    public void BackwardAccumulatesAcrossCalls()
    {
        var a = Leaf(Tensor.FromArray(new[] { 1f, 2f, 3f }, 3));
        Ops.Sum(a * a).Backward();
        Ops.Sum(a * a).Backward();
        AssertClose(new[] { 4f, 8f, 12f }, a.Grad!.Span);
    }

    [Fact]
    public void GradReturnsOnlyRequestedAndLeavesGradUntouched()
    {
        var w = Leaf(Randn(1, 4, 4));
        var x = Leaf(Randn(2, 2, 4));
        var loss = Ops.Sum(Ops.Square(Ops.Linear(x, w)));
        var g = Autograd.Grad(loss, new[] { x });
        Assert.Null(w.Grad);
        Assert.Null(x.Grad);
        // d/dx sum((x W^T)^2) = 2 (x W^T) W
        Tensor expected;
        using (GradMode.NoGrad()) expected = Ops.Matmul(Ops.Linear(x, w) * 2f, w);
        AssertClose(expected, g[0], 1e-5f, 1e-5f);
    }

    [Fact]
    public void GradOfUnusedInputIsZero()
    {
        var a = Leaf(Randn(1, 3));
        var b = Leaf(Randn(2, 3));
        var g = Autograd.Grad(Ops.Sum(a), new[] { b });
        Assert.All(g[0].ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void LeavesNeverShareAGradientTensor()
    {
        var a = Leaf(Randn(1, 4));
        var b = Leaf(Randn(2, 4));
        var g = Randn(3, 4);
        (a + b).Backward(g);
        Assert.NotSame(a.Grad, b.Grad);
        Assert.NotSame(g, a.Grad);
        a.Grad!.Span[0] = 100f; // an in-place edit (as gradient clipping does) must not reach b
        Assert.Equal(g.Span[0], b.Grad!.Span[0]);
    }

    [Fact]
    public void NormGradientIsZeroAtAZeroSliceAndXOverNormElsewhere()
    {
        var x = Leaf(Tensor.FromArray(new[] { 0f, 0f, 3f, 4f }, 2, 2));
        Ops.Sum(Ops.Norm(x, new[] { 1 })).Backward();
        AssertClose(new[] { 0f, 0f, 0.6f, 0.8f }, x.Grad!.Span);
        GradCheck(t => Ops.Norm(t[0], new[] { 0 }, keepDim: true), new[] { Leaf(Randn(4, 3, 5)) });
    }

    [Fact]
    public void DiamondGraphSumsBothPaths()
    {
        var a = Leaf(Tensor.FromArray(new[] { 2f }, 1));
        var b = a * 3f;
        var y = b * b + b; // y = 9a^2 + 3a, dy/da = 18a + 3 = 39
        Ops.Sum(y).Backward();
        Assert.Equal(39f, a.Grad!.Span[0], 4);
    }

    [Fact]
    public void DeepChainDoesNotOverflowTheStack()
    {
        var a = Leaf(Tensor.FromArray(new[] { 1f }, 1));
        var y = a;
        for (int i = 0; i < 50_000; i++) y = y + 0f;
        Ops.Sum(y).Backward();
        Assert.Equal(1f, a.Grad!.Span[0]);
    }

    [Fact]
    public void SecondBackwardWithoutRetainThrows()
    {
        var a = Leaf(Randn(1, 3));
        var y = Ops.Sum(Ops.Exp(a));
        y.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("retainGraph", ex.Message);
    }

    [Fact]
    public void DetachCutsTheGraph()
    {
        var a = Leaf(Randn(1, 3));
        var y = Ops.Sum(Ops.Exp(a).Detach() * a);
        y.Backward();
        AssertClose(Ops.Exp(a.Detach()), a.Grad!);
    }

    [Fact]
    public void BroadcastGradientIsSummedToSourceShape()
    {
        var a = Leaf(Randn(1, 2, 3));
        var b = Leaf(Randn(2, 3));
        Ops.Sum(a * b).Backward();
        Assert.Equal(new Shape(3), b.Grad!.Shape);
        AssertClose(Ops.Sum(a.Detach(), new[] { 0 }), b.Grad!);
    }

    [Fact]
    public void CheckpointMatchesPlainGradients()
    {
        var w1 = Leaf(Randn(1, 8, 8));
        var w2 = Leaf(Randn(2, 8, 8));
        var x = Leaf(Randn(3, 5, 8));
        Tensor Block(Tensor[] i) => Ops.Linear(Ops.Gelu(Ops.Linear(i[0], w1)), w2) + i[0];

        Ops.Sum(Ops.Square(Block(new[] { Block(new[] { x }) }))).Backward();
        var gw1 = w1.Grad!.Clone(); var gx = x.Grad!.Clone();
        w1.Grad = null; w2.Grad = null; x.Grad = null;

        var h = Checkpoint.Run(Block, new[] { x }, new[] { w1, w2 });
        var y = Checkpoint.Run(Block, new[] { h }, new[] { w1, w2 });
        Ops.Sum(Ops.Square(y)).Backward();
        AssertClose(gw1, w1.Grad!, 1e-4f, 1e-4f);
        AssertClose(gx, x.Grad!, 1e-4f, 1e-4f);
    }

    [Fact]
    public void CheckpointGradWrtInputSkipsFrozenWeights()
    {
        var w = Randn(1, 6, 6); // frozen
        var x = Leaf(Randn(2, 4, 6));
        Tensor Block(Tensor[] i) => Ops.Tanh(Ops.Linear(i[0], w));
        var plain = Autograd.Grad(Ops.Sum(Block(new[] { x })), new[] { x })[0];
        var ck = Autograd.Grad(Ops.Sum(Checkpoint.Run(Block, new[] { x })), new[] { x })[0];
        AssertClose(plain, ck, 1e-5f, 1e-6f);
        Assert.Null(w.Grad);
    }

    [Fact]
    public void ScopeReleasesTemporariesAndKeepsChosen()
    {
        Tensor kept, temp;
        using (var scope = new TensorScope())
        {
            temp = Tensor.Ones(4);
            kept = scope.Keep(temp * 2f);
        }
        Assert.Throws<ObjectDisposedException>(() => temp.Span.ToArray());
        Assert.Equal(2f, kept.Span[0]);
    }
}

public class OpProfileTests
{
    [Fact]
    public void ChargesEachOpItsForwardAndBackwardCalls()
    {
        var x = TestUtil.Leaf(TestUtil.Randn(1, 64, 64));
        OpProfile.Start();
        var y = Ops.Sum(Ops.Matmul(x, x).Silu());
        Autograd.Grad(y, new[] { x });
        var table = OpProfile.Stop().ToDictionary(e => e.Op, e => e.Time);
        Assert.False(OpProfile.Enabled);
        Assert.Equal(1, table["Matmul"].ForwardCalls);
        Assert.Equal(1, table["Matmul"].BackwardCalls);
        Assert.Equal(1, table["Silu"].BackwardCalls);
        // the ops a backward function runs (the matmuls of Matmul's backward) are charged to that function, not as forwards
        Assert.Equal(1, table["Sum"].ForwardCalls);
        Assert.True(table["Matmul"].BackwardMs > 0);
        // nothing is charged once stopped
        Ops.Matmul(x, x);
        Assert.Equal(1, OpProfile.Stop().Single(e => e.Op == "Matmul").Time.ForwardCalls);
    }
}
