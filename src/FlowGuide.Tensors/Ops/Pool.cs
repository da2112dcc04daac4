using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// 2-D average pooling of x [N, C, H, W] with symmetric zero padding counted in the divisor (torch's default
    /// count_include_pad=True, ceil_mode=False). Stride defaults to the kernel size, like torch.
    /// </summary>
    public static Tensor AvgPool2d(this Tensor x, int kernelSize, int? stride = null, int padding = 0) =>
        AvgPoolNd("AvgPool2d", x, Rep(kernelSize, 2), Rep(stride ?? kernelSize, 2), Rep(padding, 2));

    /// <summary>2-D average pooling with per-axis (H, W) kernel, stride (null: the kernel) and symmetric padding (null: 0).</summary>
    public static Tensor AvgPool2d(this Tensor x, int[] kernelSize, int[]? stride, int[]? padding = null) =>
        AvgPoolNd("AvgPool2d", x, kernelSize, stride ?? kernelSize, padding ?? Rep(0, 2));

    /// <summary>3-D average pooling of x [N, C, D, H, W]; see <see cref="AvgPool2d(Tensor, int, int?, int)"/> for the conventions.</summary>
    public static Tensor AvgPool3d(this Tensor x, int kernelSize, int? stride = null, int padding = 0) =>
        AvgPoolNd("AvgPool3d", x, Rep(kernelSize, 3), Rep(stride ?? kernelSize, 3), Rep(padding, 3));

    /// <summary>3-D average pooling with per-axis (D, H, W) kernel, stride (null: the kernel) and symmetric padding (null: 0).</summary>
    public static Tensor AvgPool3d(this Tensor x, int[] kernelSize, int[]? stride, int[]? padding = null) =>
        AvgPoolNd("AvgPool3d", x, kernelSize, stride ?? kernelSize, padding ?? Rep(0, 3));

    /// <summary>1-D average pooling of x [N, C, L]; see <see cref="AvgPool2d(Tensor, int, int?, int)"/> for the conventions.</summary>
    public static Tensor AvgPool1d(this Tensor x, int kernelSize, int? stride = null, int padding = 0) =>
        AvgPoolNd("AvgPool1d", x, new[] { kernelSize }, new[] { stride ?? kernelSize }, new[] { padding });

    private static Tensor AvgPoolNd(string op, Tensor x, int[] kernel, int[] stride, int[] padding)
    {
        int s = op[7] - '0';
        if (x.Rank != s + 2) throw new ArgumentException($"{op}: input {x.Shape} must have rank {s + 2} ([N, C, {s} spatial axes]).");
        CheckPerAxis(op, "kernelSize", kernel.Length, s, kernel.Any(v => v < 1), "positive");
        CheckPerAxis(op, "stride", stride.Length, s, stride.Any(v => v < 1), "positive");
        CheckPerAxis(op, "padding", padding.Length, s, padding.Any(v => v < 0), "non-negative");
        for (int i = 0; i < s; i++)
            if (2 * padding[i] > kernel[i])
                throw new ArgumentException($"{op}: padding {padding[i]} on spatial axis {i} must be at most half the kernel size {kernel[i]} (as in torch).");
        int c = x.Shape.Dims[1];
        var g = ConvGeometry.Create(op, x.Shape.Dims[0], c, x.Shape.Dims[2..].ToArray(), c, c, kernel, stride, Rep(1, s), Sym(padding));
        var y = Tensor.Empty(Shape.Wrap(new[] { g.N, c }.Concat(g.OutSpatial(s)).ToArray()));
        Pool.AvgPoolForward(g, x.Span, y.Span);
        return Autograd.Record(y, op, (gy, _) =>
        {
            var dx = Tensor.Empty(x.Shape);
            Pool.AvgPoolBackward(g, gy.Span, dx.Span);
            return new[] { dx };
        }, x);
    }

    /// <summary>
    /// Nearest-neighbour upsampling by integer factors, one per spatial axis (first spatial axis first): x [N, C, *spatial]
    /// with 1..3 spatial axes; output axis i has size in_i * scale_i and y[..., j] = x[..., j / scale]. Matches torch's
    /// F.interpolate(mode='nearest', scale_factor=s) for integer s. The gradient sums each block.
    /// </summary>
    public static Tensor UpsampleNearest(this Tensor x, params int[] scale)
    {
        const string op = "UpsampleNearest";
        int s = x.Rank - 2;
        if (s < 1 || s > 3) throw new ArgumentException($"{op}: input {x.Shape} must be [N, C, *spatial] with 1 to 3 spatial axes.");
        CheckPerAxis(op, "scale", scale.Length, s, scale.Any(v => v < 1), "positive");
        var dims = new[] { x.Shape.Dims[0] * x.Shape.Dims[1], 1, 1, 1 };
        var sc = new[] { 1, 1, 1 };
        for (int i = 0; i < s; i++) { dims[4 - s + i] = x.Shape.Dims[2 + i]; sc[3 - s + i] = scale[i]; }
        var outDims = x.Shape.ToArray();
        for (int i = 0; i < s; i++) outDims[2 + i] *= scale[i];
        var y = Tensor.Empty(Shape.Wrap(outDims));
        Pool.UpsampleNearestForward(dims, sc, x.Span, y.Span);
        return Autograd.Record(y, op, (gy, _) =>
        {
            var dx = Tensor.Empty(x.Shape);
            Pool.UpsampleNearestBackward(dims, sc, gy.Span, dx.Span);
            return new[] { dx };
        }, x);
    }

    /// <summary>
    /// Bilinear resize of x [N, C, H, W] to [N, C, outH, outW], matching torch's F.interpolate(size=(outH, outW),
    /// mode='bilinear', align_corners=...). With alignCorners the corner pixels of input and output coincide; without,
    /// pixel centres are aligned (src = (dst + 0.5) * in/out - 0.5, clamped at 0), which is what downsampling should use.
    /// </summary>
    public static Tensor UpsampleBilinear2d(this Tensor x, int outH, int outW, bool alignCorners = false)
    {
        const string op = "UpsampleBilinear2d";
        if (x.Rank != 4) throw new ArgumentException($"{op}: input {x.Shape} must be [N, C, H, W].");
        if (outH < 1 || outW < 1) throw new ArgumentException($"{op}: output size ({outH}, {outW}) must be positive.");
        int n = x.Shape.Dims[0], c = x.Shape.Dims[1], h = x.Shape.Dims[2], w = x.Shape.Dims[3];
        if (h < 1 || w < 1) throw new ArgumentException($"{op}: input {x.Shape} has an empty spatial axis.");
        var y = Tensor.Empty(n, c, outH, outW);
        Pool.BilinearForward(n * c, h, w, outH, outW, alignCorners, x.Span, y.Span);
        return Autograd.Record(y, op, (gy, _) =>
        {
            var dx = Tensor.Empty(x.Shape);
            Pool.BilinearBackward(n * c, h, w, outH, outW, alignCorners, gy.Span, dx.Span);
            return new[] { dx };
        }, x);
    }
}
