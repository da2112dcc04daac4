using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>User errors raise an ArgumentException (or a subclass) naming the op and the shapes involved.</summary>
public class ErrorTests
{
    private static void Throws<TEx>(Action act, params string[] fragments) where TEx : Exception
    {
        var e = Assert.ThrowsAny<TEx>(act);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void BroadcastMismatchNamesOpAndShapes()
    {
        var a = Tensor.Zeros(2, 3); var b = Tensor.Zeros(4);
        Throws<ArgumentException>(() => Ops.Add(a, b), "Add", "[2, 3]", "[4]");
        Throws<ArgumentException>(() => Ops.Mul(a, b), "Mul", "[2, 3]", "[4]");
        Throws<ArgumentException>(() => Ops.Maximum(a, b), "Max", "[2, 3]", "[4]");
        Throws<ArgumentException>(() => Ops.Where(Tensor.Ones(2, 3), a, b), "Where", "[4]");
        Throws<ArgumentException>(() => Ops.Gt(a, b), "[2, 3]", "[4]");
    }

    [Fact]
    public void MatmulAndLinearMismatch()
    {
        Throws<ArgumentException>(() => Ops.Matmul(Tensor.Zeros(2, 3), Tensor.Zeros(4, 5)), "Matmul", "[2, 3]", "[4, 5]");
        Throws<ArgumentException>(() => Ops.Matmul(Tensor.Zeros(2, 2, 3), Tensor.Zeros(3, 3, 5)), "Matmul", "[2]", "[3]");
        Throws<ArgumentException>(() => Ops.Matmul(Tensor.Scalar(1f), Tensor.Zeros(3)), "Matmul");
        Throws<ArgumentException>(() => Ops.MatmulT(Tensor.Zeros(2, 3), Tensor.Zeros(2, 3), false, false), "Matmul", "[2, 3]");
        Throws<ArgumentException>(() => Ops.Linear(Tensor.Zeros(2, 3), Tensor.Zeros(4, 5)), "Linear", "[2, 3]", "[4, 5]");
        Throws<ArgumentException>(() => Ops.Linear(Tensor.Zeros(2, 5), Tensor.Zeros(4, 5), Tensor.Zeros(3)), "Linear", "[3]", "[4, 5]");
    }

    [Fact]
    public void ReshapeErrors()
    {
        var x = Tensor.Zeros(2, 3);
        Throws<ArgumentException>(() => x.Reshape(4, 2), "Reshape", "[4, 2]", "[2, 3]");
        Throws<ArgumentException>(() => x.Reshape(-1, -1), "Reshape", "-1");
        Throws<ArgumentException>(() => x.Reshape(4, -1), "Reshape", "[2, 3]");
        Throws<ArgumentException>(() => x.Reshape(-2, 3), "Reshape", "-2");
        Throws<ArgumentException>(() => x.Squeeze(0), "Squeeze", "[2, 3]");
        Throws<ArgumentException>(() => x.Expand(4, 3), "Expand", "[2, 3]", "[4, 3]");
        Throws<ArgumentException>(() => x.Expand(3), "Expand", "[2, 3]");
        Throws<ArgumentException>(() => x.Permute(0), "Permute", "[2, 3]");
        Throws<ArgumentException>(() => x.Permute(1, 1), "Permute");
        Throws<ArgumentException>(() => x.Repeat(2), "Repeat", "[2, 3]");
    }

    [Fact]
    public void BadAxisNamesOpAndRank()
    {
        var x = Tensor.Zeros(2, 3);
        Throws<ArgumentException>(() => Ops.Sum(x, 2), "Sum", "axis 2", "rank-2");
        Throws<ArgumentException>(() => Ops.Max(x, new[] { -3 }), "Max", "-3");
        Throws<ArgumentException>(() => Ops.Sum(x, new[] { 0, 0 }), "Sum", "repeated");
        Throws<ArgumentException>(() => Ops.Mean(x, 5), "Mean");
        Throws<ArgumentException>(() => x.Transpose(0, 2), "Transpose");
        Throws<ArgumentException>(() => x.Unsqueeze(4), "Unsqueeze");
        Throws<ArgumentException>(() => x.Flatten(0, 3), "Flatten");
        Throws<ArgumentException>(() => x.Narrow(2, 0, 1), "Narrow");
        Throws<ArgumentException>(() => x.Slice(-3, 0, 1), "Slice");
        Throws<ArgumentException>(() => x.MaxWithIndices(2), "MaxWithIndices");
        Throws<ArgumentException>(() => x.Flip(2), "Flip");
    }

    [Fact]
    public void ConcatStackSplitErrors()
    {
        var a = Tensor.Zeros(2, 3); var b = Tensor.Zeros(3, 3); var c = Tensor.Zeros(2, 3, 1);
        Throws<ArgumentException>(() => Ops.Concat(new[] { a, b }, 1), "Concat", "[2, 3]", "[3, 3]");
        Throws<ArgumentException>(() => Ops.Concat(new[] { a, c }, 0), "Concat", "[2, 3, 1]");
        Throws<ArgumentException>(() => Ops.Concat(System.Array.Empty<Tensor>(), 0), "Concat");
        Throws<ArgumentException>(() => Ops.Stack(new[] { a, b }, 0), "Stack", "[2, 3]", "[3, 3]");
        Throws<ArgumentException>(() => a.Split(new[] { 1, 1 }, 1), "Split", "[1, 1]", "[2, 3]");
        Throws<ArgumentException>(() => a.Split(new[] { 4, -1 }, 1), "Split");
        Throws<ArgumentException>(() => a.Split(0, 1), "Split");
        Throws<ArgumentException>(() => a.Chunk(0, 1), "Chunk");
    }

    [Fact]
    public void NarrowAndSliceOutOfRange()
    {
        var x = Tensor.Zeros(2, 5);
        Throws<ArgumentException>(() => x.Narrow(1, 3, 3), "Narrow", "[3, 6)", "[2, 5]");
        Throws<ArgumentException>(() => x.Narrow(1, -6, 1), "Narrow", "[2, 5]");
        Throws<ArgumentException>(() => x.Narrow(1, 0, -1), "Narrow");
        Throws<ArgumentException>(() => x.Slice(1, 0, 5, 0), "Slice", "step");
    }

    [Fact]
    public void ExpandAndFlattenRejectMalformedArguments()
    {
        var x = Tensor.Zeros(3, 1);
        Throws<ArgumentException>(() => x.Expand(3, -2), "Expand", "-2", "[3, 1]");
        Throws<ArgumentException>(() => x.Expand(-1, 3, 4), "Expand", "-1");
        Throws<ArgumentException>(() => Tensor.Zeros(2, 3, 4).Flatten(2, 0), "Flatten", "[2, 3, 4]");
        Throws<ArgumentException>(() => Ops.Clamp(x, float.NaN, 1f), "Clamp");
    }

    [Fact]
    public void ValueErrors()
    {
        Throws<ArgumentException>(() => Ops.Clamp(Tensor.Zeros(2), 1f, 0f), "Clamp");
        Throws<ArgumentException>(() => Ops.Norm(Tensor.Zeros(2), p: 0f), "Norm");
        Throws<ArgumentException>(() => Ops.Var(Tensor.Zeros(1, 3), 0, unbiased: true), "Var", "[1, 3]");
        Throws<ArgumentException>(() => Tensor.Arange(0, 1, float.NaN), "Arange");
        Throws<ArgumentException>(() => new Shape(2, -1), "Shape");
    }
}
