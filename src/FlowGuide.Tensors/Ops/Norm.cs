using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Layer normalisation over the last dimension (PyTorch's LayerNorm with an int normalized_shape):
    /// y = (x - mean) / sqrt(var + eps) * weight + bias with the biased variance. <paramref name="weight"/> and
    /// <paramref name="bias"/> are optional and independent; each must have shape [<paramref name="normalizedSize"/>].
    /// </summary>
    public static Tensor LayerNorm(this Tensor x, int normalizedSize, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f) =>
        LayerNorm(x, new[] { normalizedSize }, weight, bias, eps);

    /// <summary>
    /// Layer normalisation over the trailing dimensions <paramref name="normalizedShape"/> (which must match the end of
    /// x's shape); weight and bias, when given, have exactly that shape. Forward and backward are single fused passes;
    /// the per-row mean and 1/std are kept only when a gradient is being recorded.
    /// </summary>
    public static Tensor LayerNorm(this Tensor x, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        int r = normalizedShape.Length;
        bool match = r >= 1 && r <= x.Rank;
        for (int i = 0; match && i < r; i++) match = x.Shape.Dims[x.Rank - r + i] == normalizedShape[i];
        if (!match)
            throw new ArgumentException($"LayerNorm: input {x.Shape} does not end with the normalized shape [{string.Join(", ", normalizedShape)}].");
        var ns = new Shape(normalizedShape);
        if (weight is not null && weight.Shape != ns)
            throw new ArgumentException($"LayerNorm: weight {weight.Shape} must have the normalized shape {ns}.");
        if (bias is not null && bias.Shape != ns)
            throw new ArgumentException($"LayerNorm: bias {bias.Shape} must have the normalized shape {ns}.");
        return NormCore("LayerNorm", rms: false, x, ns.Numel, weight, bias, eps);
    }

    /// <summary>
    /// RMS normalisation over the last dimension: y = x / sqrt(mean(x^2) + eps) * weight (weight [last dim] optional).
    /// Wan applies it to q and k across all heads before they are split.
    /// </summary>
    public static Tensor RmsNorm(this Tensor x, Tensor? weight = null, float eps = 1e-6f)
    {
        if (x.Rank == 0) throw new ArgumentException("RmsNorm: input must have at least one dimension, got a scalar.");
        int n = x.Shape.Dims[^1];
        if (weight is not null && (weight.Rank != 1 || weight.Numel != n))
            throw new ArgumentException($"RmsNorm: weight {weight.Shape} does not match input {x.Shape} (expected [{n}]).");
        return NormCore("RmsNorm", rms: true, x, n, weight, null, eps);
    }

    private static Tensor NormCore(string op, bool rms, Tensor x, int n, Tensor? weight, Tensor? bias, float eps)
    {
        int rows = n == 0 ? 0 : x.Numel / n;
        var inputs = new List<Tensor> { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        bool record = GradMode.IsEnabled && inputs.Any(t => t.RequiresGrad);
        var mean = record && !rms ? new float[rows] : Array.Empty<float>();
        var rstd = record ? new float[rows] : Array.Empty<float>();
        var y = Tensor.Empty(x.Shape);
        ReadOnlySpan<float> w = weight is null ? default : weight.Span, b = bias is null ? default : bias.Span;
        NormKernels.Forward(rms, x.Span, w, b, y.Span, mean, rstd, rows, n, eps);
        if (!record) return y;
        return Autograd.Record(y, op, (g, need) =>
        {
            int wi = weight is null ? -1 : 1, bi = bias is null ? -1 : weight is null ? 1 : 2;
            var dx = need[0] ? Tensor.Empty(x.Shape) : null;
            var dw = wi > 0 && need[wi] ? Tensor.Empty(weight!.Shape) : null;
            var db = bi > 0 && need[bi] ? Tensor.Empty(bias!.Shape) : null;
            NormKernels.Backward(rms, x.Span, weight is null ? default : weight.Span, mean, rstd, g.Span,
                dx is null ? default : dx.Span, dw is null ? default : dw.Span, db is null ? default : db.Span, rows, n);
            var grads = new Tensor?[inputs.Count];
            grads[0] = dx;
            if (wi > 0) grads[wi] = dw;
            if (bi > 0) grads[bi] = db;
            return grads;
        }, inputs.ToArray());
    }
}
