using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// 1-D convolution (cross-correlation, like torch): x [N, C, L], weight [O, C/groups, k], bias [O] or null.
    /// Padding is zero padding of <paramref name="padding"/> elements on both ends.
    /// </summary>
    public static Tensor Conv1d(this Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        ConvNd("Conv1d", x, weight, bias, new[] { stride }, new[] { (padding, padding) }, new[] { dilation }, groups);

    /// <summary>1-D convolution with asymmetric zero padding (before, after), e.g. causal padding (k-1, 0).</summary>
    public static Tensor Conv1d(this Tensor x, Tensor weight, Tensor? bias, int stride, (int Before, int After) padding, int dilation = 1, int groups = 1) =>
        ConvNd("Conv1d", x, weight, bias, new[] { stride }, new[] { padding }, new[] { dilation }, groups);

    /// <summary>
    /// 2-D convolution: x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or null; the same stride, symmetric zero
    /// padding and dilation on both spatial axes.
    /// </summary>
    public static Tensor Conv2d(this Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        ConvNd("Conv2d", x, weight, bias, Rep(stride, 2), Sym(Rep(padding, 2)), Rep(dilation, 2), groups);

    /// <summary>2-D convolution with per-axis (H, W) stride, symmetric padding and dilation (null dilation means 1).</summary>
    public static Tensor Conv2d(this Tensor x, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[]? dilation = null, int groups = 1) =>
        ConvNd("Conv2d", x, weight, bias, stride, Sym(padding), dilation ?? Rep(1, 2), groups);

    /// <summary>2-D convolution with per-axis (H, W) zero padding given as (before, after) pairs, first spatial axis first.</summary>
    public static Tensor Conv2d(this Tensor x, Tensor weight, Tensor? bias, int[] stride, (int Before, int After)[] padding, int[]? dilation = null, int groups = 1) =>
        ConvNd("Conv2d", x, weight, bias, stride, padding, dilation ?? Rep(1, 2), groups);

    /// <summary>
    /// 3-D convolution: x [N, C, D, H, W], weight [O, C/groups, kd, kh, kw], bias [O] or null; the same stride, symmetric
    /// zero padding and dilation on all three spatial axes.
    /// </summary>
    public static Tensor Conv3d(this Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        ConvNd("Conv3d", x, weight, bias, Rep(stride, 3), Sym(Rep(padding, 3)), Rep(dilation, 3), groups);

    /// <summary>3-D convolution with per-axis (D, H, W) stride, symmetric padding and dilation (null dilation means 1).</summary>
    public static Tensor Conv3d(this Tensor x, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[]? dilation = null, int groups = 1) =>
        ConvNd("Conv3d", x, weight, bias, stride, Sym(padding), dilation ?? Rep(1, 3), groups);

    /// <summary>
    /// 3-D convolution with per-axis zero padding as (before, after) pairs in axis order (D, H, W) — the first spatial axis
    /// first, unlike torch's F.pad. A causal video conv pads time only in front: <c>[(2p, 0), (p, p), (p, p)]</c>.
    /// </summary>
    public static Tensor Conv3d(this Tensor x, Tensor weight, Tensor? bias, int[] stride, (int Before, int After)[] padding, int[]? dilation = null, int groups = 1) =>
        ConvNd("Conv3d", x, weight, bias, stride, padding, dilation ?? Rep(1, 3), groups);

    /// <summary>
    /// The general convolution behind Conv1d/2d/3d for 1..3 spatial axes: x [N, C, *spatial], weight [O, C/groups, *kernel],
    /// per-axis stride, dilation and (before, after) zero padding, first spatial axis first. im2col + GEMM per group; the
    /// backward pass skips the weight product when the weight needs no gradient and the input product when x needs none.
    /// </summary>
    public static Tensor ConvNd(Tensor x, Tensor weight, Tensor? bias, int[] stride, (int Before, int After)[] padding, int[] dilation, int groups) =>
        ConvNd("ConvNd", x, weight, bias, stride, padding, dilation, groups);

    private static Tensor ConvNd(string op, Tensor x, Tensor weight, Tensor? bias, int[] stride, (int Before, int After)[] padding, int[] dilation, int groups)
    {
        var g = ConvGeometryFor(op, x, weight, bias, stride, padding, dilation, groups);
        int s = x.Rank - 2;
        var outDims = new[] { g.N, g.O }.Concat(g.OutSpatial(s)).ToArray();
        var y = Tensor.Empty(Shape.Wrap(outDims));
        Conv.Forward(g, x.Span, weight.Span, bias is null ? default : bias.Span, y.Span);
        BackwardFn back = (gy, need) =>
        {
            Tensor? dx = null, dw = null, db = null;
            if (need[0]) { dx = Tensor.Empty(x.Shape); Conv.BackwardInput(g, gy.Span, weight.Span, dx.Span); }
            if (need[1]) { dw = Tensor.Empty(weight.Shape); Conv.BackwardWeight(g, x.Span, gy.Span, dw.Span); }
            if (bias is not null && need[2]) { db = Tensor.Empty(bias.Shape); Conv.BackwardBias(g, gy.Span, db.Span); }
            return new[] { dx, dw, db };
        };
        return bias is null ? Autograd.Record(y, op, back, x, weight) : Autograd.Record(y, op, back, x, weight, bias);
    }

    private static ConvGeometry ConvGeometryFor(string op, Tensor x, Tensor w, Tensor? b, int[] stride, (int Before, int After)[] padding, int[] dilation, int groups)
    {
        int s = x.Rank - 2;
        if (s < 1 || s > 3)
            throw new ArgumentException($"{op}: input {x.Shape} must be [N, C, *spatial] with 1 to 3 spatial axes.");
        if (op != "ConvNd" && s != op[4] - '0')
            throw new ArgumentException($"{op}: input {x.Shape} must have rank {op[4] - '0' + 2} ([N, C, {(s == 1 ? "L" : op == "Conv2d" ? "H, W" : "D, H, W")}]), got rank {x.Rank}.");
        if (w.Rank != x.Rank)
            throw new ArgumentException($"{op}: weight {w.Shape} must have rank {x.Rank} ([O, C/groups, *kernel]) to match input {x.Shape}.");
        if (groups < 1) throw new ArgumentException($"{op}: groups must be positive, got {groups}.");
        int c = x.Shape.Dims[1], o = w.Shape.Dims[0];
        if (c % groups != 0) throw new ArgumentException($"{op}: groups={groups} does not divide the {c} input channels of {x.Shape}.");
        if (o % groups != 0) throw new ArgumentException($"{op}: groups={groups} does not divide the {o} output channels of weight {w.Shape}.");
        if (w.Shape.Dims[1] != c / groups)
            throw new ArgumentException($"{op}: weight {w.Shape} expects {w.Shape.Dims[1] * groups} input channels (C/groups = {w.Shape.Dims[1]}, groups={groups}), but input {x.Shape} has {c}.");
        if (b is not null && (b.Rank != 1 || b.Numel != o))
            throw new ArgumentException($"{op}: bias {b.Shape} must be [{o}] to match weight {w.Shape}.");
        CheckPerAxis(op, "stride", stride.Length, s, stride.Any(v => v < 1), "positive");
        CheckPerAxis(op, "dilation", dilation.Length, s, dilation.Any(v => v < 1), "positive");
        CheckPerAxis(op, "padding", padding.Length, s, padding.Any(p => p.Before < 0 || p.After < 0), "non-negative");
        return ConvGeometry.Create(op, x.Shape.Dims[0], c, x.Shape.Dims[2..].ToArray(), o, groups, w.Shape.Dims[2..].ToArray(), stride, dilation, padding);
    }

    private static void CheckPerAxis(string op, string what, int length, int spatial, bool bad, string expected)
    {
        if (length != spatial) throw new ArgumentException($"{op}: {what} has {length} entries, expected one per spatial axis ({spatial}).");
        if (bad) throw new ArgumentException($"{op}: every {what} entry must be {expected}.");
    }

    private static int[] Rep(int v, int n) => Enumerable.Repeat(v, n).ToArray();

    private static (int Before, int After)[] Sym(int[] p) => p.Select(v => (v, v)).ToArray();

    /// <summary>
    /// Extracts sliding k_h x k_w patches like torch.nn.functional.unfold: x [N, C, H, W] to [N, C*kh*kw, L] where L is
    /// the number of window positions; the channel axis varies slowest within a patch (c, then kh, then kw). Zero padding
    /// is symmetric per axis. The backward pass folds (sums overlapping patches) back into the input.
    /// </summary>
    public static Tensor Unfold(this Tensor x, int[] kernelSize, int[]? dilation = null, int[]? padding = null, int[]? stride = null)
    {
        const string op = "Unfold";
        if (x.Rank != 4) throw new ArgumentException($"{op}: input {x.Shape} must be [N, C, H, W].");
        dilation ??= Rep(1, 2); padding ??= Rep(0, 2); stride ??= Rep(1, 2);
        CheckPerAxis(op, "kernelSize", kernelSize.Length, 2, kernelSize.Any(v => v < 1), "positive");
        CheckPerAxis(op, "stride", stride.Length, 2, stride.Any(v => v < 1), "positive");
        CheckPerAxis(op, "dilation", dilation.Length, 2, dilation.Any(v => v < 1), "positive");
        CheckPerAxis(op, "padding", padding.Length, 2, padding.Any(v => v < 0), "non-negative");
        int n = x.Shape.Dims[0], c = x.Shape.Dims[1];
        var g = ConvGeometry.Create(op, n, c, x.Shape.Dims[2..].ToArray(), c, 1, kernelSize, stride, dilation, Sym(padding));
        int rows = c * g.K, l = g.OutPlane, img = c * g.InPlane;
        var y = Tensor.Empty(n, rows, l);
        for (int i = 0; i < n; i++)
            Im2Col.Unfold(g, x.Span.Slice(i * img, img), 0, c, 0, g.OutRows, y.Span.Slice(i * rows * l, rows * l));
        return Autograd.Record(y, op, (gy, _) =>
        {
            var dx = Tensor.Zeros(x.Shape);
            for (int i = 0; i < n; i++)
                Im2Col.Fold(g, gy.Span.Slice(i * rows * l, rows * l), 0, c, 0, g.OutRows, dx.Span.Slice(i * img, img));
            return new[] { dx };
        }, x);
    }
}
