using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// exp(x) / sum(exp(x)) along <paramref name="axis"/>, stabilised by the maximum, in one fused pass. Any axis works
    /// without moving it: the tensor is seen as [outer, n, inner] and rows are combined across inner-length runs.
    /// A row of all -inf gives NaN (as PyTorch does). Backward: dx = y * (g - sum(g * y)).
    /// </summary>
    public static Tensor Softmax(this Tensor x, int axis = -1) => SoftmaxCore(x, axis, log: false);

    /// <summary>
    /// x - log(sum(exp(x))) along <paramref name="axis"/>, computed directly (not as log of <see cref="Softmax"/>, which
    /// underflows). Backward: dx = g - softmax(x) * sum(g).
    /// </summary>
    public static Tensor LogSoftmax(this Tensor x, int axis = -1) => SoftmaxCore(x, axis, log: true);

    private static Tensor SoftmaxCore(Tensor x, int axis, bool log)
    {
        string op = log ? "LogSoftmax" : "Softmax";
        if (x.Rank == 0) throw new ArgumentException($"{op}: input must have at least one dimension, got a scalar.");
        int ax = Shape.NormalizeAxis(axis, x.Rank, op);
        int outer = x.Shape.Prod(0, ax), n = x.Shape.Dims[ax], inner = x.Shape.Prod(ax + 1, x.Rank);
        var y = Tensor.Empty(x.Shape);
        SoftmaxKernels.Forward(x.Span, y.Span, outer, n, inner, log);
        return Autograd.Record(y, op, (g, _) =>
        {
            var dx = Tensor.Empty(x.Shape);
            SoftmaxKernels.Backward(y.Span, g.Span, dx.Span, outer, n, inner, log);
            return new[] { dx };
        }, x);
    }
}
