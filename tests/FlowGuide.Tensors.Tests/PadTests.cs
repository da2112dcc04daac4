using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

public class PadTests
{
    // Reference values from torch 1.13: F.pad(torch.arange(12.).reshape(1, 3, 4), (2, 3, 1, 2), mode=...).
    private static readonly float[] TorchReflect =
    {
        6, 5, 4, 5, 6, 7, 6, 5, 4, 2, 1, 0, 1, 2, 3, 2, 1, 0, 6, 5, 4, 5, 6, 7, 6, 5, 4,
        10, 9, 8, 9, 10, 11, 10, 9, 8, 6, 5, 4, 5, 6, 7, 6, 5, 4, 2, 1, 0, 1, 2, 3, 2, 1, 0,
    };
    private static readonly float[] TorchReplicate =
    {
        0, 0, 0, 1, 2, 3, 3, 3, 3, 0, 0, 0, 1, 2, 3, 3, 3, 3, 4, 4, 4, 5, 6, 7, 7, 7, 7,
        8, 8, 8, 9, 10, 11, 11, 11, 11, 8, 8, 8, 9, 10, 11, 11, 11, 11, 8, 8, 8, 9, 10, 11, 11, 11, 11,
    };

    [Fact]
    public void MatchesTorchReflectAndReplicate()
    {
        var x = Tensor.Arange(12).Reshape(1, 3, 4);
        var r = x.PadLast(new[] { 2, 3, 1, 2 }, PadMode.Reflect);
        Assert.Equal(new Shape(1, 6, 9), r.Shape);
        AssertClose(TorchReflect, r.Span);
        AssertClose(TorchReplicate, x.PadLast(new[] { 2, 3, 1, 2 }, PadMode.Replicate).Span);
    }

    [Fact]
    public void NegativePadsCropAndConstantFills()
    {
        // torch: F.pad(torch.arange(12.).reshape(3, 4), (-1, 2, 1, -2), value=9) -> [[9,9,9,9,9], [1,2,3,9,9]]
        var x = Tensor.Arange(12).Reshape(3, 4);
        var y = x.PadLast(new[] { -1, 2, 1, -2 }, PadMode.Constant, 9f);
        Assert.Equal(new Shape(2, 5), y.Shape);
        AssertClose(new[] { 9f, 9, 9, 9, 9, 1, 2, 3, 9, 9 }, y.Span);
        AssertClose(new[] { 0f, 0, 1, 2, 3, 0 }, Tensor.Arange(4).PadLast(2, 1).Narrow(0, 1, 6).Span);
    }

    [Fact]
    public void PadOrderIsFirstAxisFirstAndPadLastIsTorchOrder()
    {
        var x = Randn(1, 2, 3, 4);
        var a = x.Pad(new[] { (0, 0), (1, 2), (0, 3) }, PadMode.Reflect);
        var b = x.PadLast(new[] { 0, 3, 1, 2 }, PadMode.Reflect);
        AssertClose(a, b);
        Assert.Equal(new Shape(2, 6, 7), a.Shape);
        Assert.Same(x, x.Pad(new[] { (0, 0), (0, 0), (0, 0) }));
    }

    [Theory]
    [InlineData(PadMode.Constant)]
    [InlineData(PadMode.Replicate)]
    [InlineData(PadMode.Reflect)]
    public void FastKernelMatchesScalarTwin(PadMode mode)
    {
        var x = Randn(2, 5, 3, 7).Permute(1, 2, 0); // [3, 7, 5], produced by a layout op
        var cases = new[]
        {
            new[] { (1, 2), (0, 0), (4, 3) },
            new[] { (-1, 2), (3, -2), (2, 0) },
            new[] { (0, 0), (6, 6), (-2, -1) },
            new[] { (2, 1), (1, 1), (0, 0) },
        };
        foreach (var pads in cases)
        {
            var y = x.Pad(pads, mode, 1.5f);
            var expected = new float[y.Numel];
            IndexingKernels.PadScalar(x.Span, x.Shape.ToArray(), pads, mode, 1.5f, expected);
            AssertClose(expected, y.Span, what: $"{mode} {string.Join(",", pads)}");
        }
    }

    [Theory]
    [InlineData(PadMode.Constant)]
    [InlineData(PadMode.Replicate)]
    [InlineData(PadMode.Reflect)]
    public void GradCheckEachMode(PadMode mode)
    {
        GradCheck(t => t[0].Pad(new[] { (0, 0), (2, -1), (3, 2) }, mode, 0.5f), new[] { Leaf(Randn(3, 2, 4, 5)) });
    }

    [Fact]
    public void ReplicateAndReflectBackwardAccumulateIntoSources()
    {
        var x = Leaf(Tensor.FromArray(new[] { 1f, 2f, 3f }, 3));
        Ops.Sum(x.PadLast(new[] { 2, 2 }, PadMode.Replicate)).Backward();
        AssertClose(new[] { 3f, 1f, 3f }, x.Grad!.Span);
        x.Grad = null;
        Ops.Sum(x.PadLast(new[] { 2, 1 }, PadMode.Reflect)).Backward(); // [3, 2, 1, 2, 3, 2]
        AssertClose(new[] { 1f, 3f, 2f }, x.Grad!.Span);
    }

    [Fact]
    public void ErrorsNameTheProblem()
    {
        var x = Randn(1, 2, 3);
        Assert.Contains("smaller than the axis size 3", Assert.Throws<ArgumentException>(() => x.PadLast(new[] { 3, 0 }, PadMode.Reflect)).Message);
        Assert.Contains("expected exactly 2", Assert.Throws<ArgumentException>(() => x.Pad(new[] { (1, 1) })).Message);
        Assert.Contains("crop more", Assert.Throws<ArgumentException>(() => x.PadLast(-2, -2)).Message);
        Assert.Contains("even number", Assert.Throws<ArgumentException>(() => x.PadLast(1, 2, 3)).Message);
        Assert.Contains("at most 4", Assert.Throws<ArgumentException>(() => x.PadLast(1, 1, 1, 1, 1, 1)).Message);
        Assert.Contains("replicate", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 0).PadLast(new[] { 1, 0 }, PadMode.Replicate)).Message);
    }

    [Theory]
    [InlineData(PadMode.Constant)]
    [InlineData(PadMode.Replicate)]
    [InlineData(PadMode.Reflect)]
    public void LargeSizesSplitAcrossThreadsAndBackwardIsTheAdjoint(PadMode mode)
    {
        var x = Randn(50, 3, 5, 90, 77);
        var pads = new[] { (0, 0), (1, 2), (9, -4), (30, 5) };
        var y = x.Pad(pads, mode);
        var expected = new float[y.Numel];
        IndexingKernels.PadScalar(x.Span, x.Shape.ToArray(), pads, mode, 0f, expected);
        AssertClose(expected, y.Span);
        AssertAdjoint(t => t.Pad(pads, mode), x, 51);
    }
}
