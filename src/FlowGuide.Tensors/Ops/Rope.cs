using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Wan2.1's 3-D rotary tables for a grid of <paramref name="frames"/> x <paramref name="height"/> x
    /// <paramref name="width"/> tokens ordered (frame, row, column). The head dim is split into time/height/width parts
    /// h = w = 2 * (headDim / 6), t = headDim - h - w (44/42/42 for 128); each part of size d_a has d_a/2 frequencies
    /// theta^(-2i/d_a) for its own axis position. Angles are computed in double. Returns Cos and Sin of shape
    /// [F*H*W, headDim/2] whose column order is (time pairs, height pairs, width pairs).
    /// </summary>
    public static (Tensor Cos, Tensor Sin) RopeFrequencies(int frames, int height, int width, int headDim, double theta = 10000.0)
    {
        if (frames < 1 || height < 1 || width < 1)
            throw new ArgumentException($"RopeFrequencies: grid {frames} x {height} x {width} must be at least 1 x 1 x 1.");
        if (headDim < 6 || headDim % 2 != 0)
            throw new ArgumentException($"RopeFrequencies: head dim {headDim} must be even and at least 6 (split into time/height/width pairs).");
        int dh = 2 * (headDim / 6), dw = dh, dt = headDim - dh - dw, half = headDim / 2;
        var ft = AxisFrequencies(dt, theta);
        var fh = AxisFrequencies(dh, theta);
        var fw = AxisFrequencies(dw, theta);
        int tokens = frames * height * width;
        var cos = Tensor.Empty(tokens, half);
        var sin = Tensor.Empty(tokens, half);
        var cs = cos.Span;
        var sn = sin.Span;
        int tok = 0;
        for (int f = 0; f < frames; f++)
            for (int h = 0; h < height; h++)
                for (int w = 0; w < width; w++, tok++)
                {
                    int c = tok * half;
                    foreach (var (freqs, pos) in new[] { (ft, f), (fh, h), (fw, w) })
                        foreach (var fr in freqs)
                        {
                            double angle = pos * fr;
                            cs[c] = (float)Math.Cos(angle);
                            sn[c] = (float)Math.Sin(angle);
                            c++;
                        }
                }
        return (cos, sin);
    }

    private static double[] AxisFrequencies(int dim, double theta)
    {
        var f = new double[dim / 2];
        for (int i = 0; i < f.Length; i++) f[i] = Math.Pow(theta, -2.0 * i / dim);
        return f;
    }

    /// <summary>
    /// Rotates interleaved pairs of the last dim of <paramref name="x"/>: o[2i] = x[2i] cos_i - x[2i+1] sin_i,
    /// o[2i+1] = x[2i] sin_i + x[2i+1] cos_i, with cos/sin [L, D/2] indexed by the token position along
    /// <paramref name="tokenAxis"/>. The default -2 takes x as [B, heads, L, D]; pass 1 for [B, L, heads, D] (every axis
    /// between the token axis and the last shares the token's angle). Differentiable in x (the gradient is the rotation
    /// by the opposite angle); cos and sin are constants.
    /// </summary>
    public static Tensor ApplyRope(this Tensor x, Tensor cos, Tensor sin, int tokenAxis = -2)
    {
        if (x.Rank < 2) throw new ArgumentException($"ApplyRope: input {x.Shape} must be at least [L, D].");
        int ta = Shape.NormalizeAxis(tokenAxis, x.Rank, "ApplyRope");
        int dim = x.Shape.Dims[^1];
        if (ta == x.Rank - 1) throw new ArgumentException($"ApplyRope: token axis {tokenAxis} cannot be the last (pair) axis of {x.Shape}.");
        int tokens = x.Shape.Dims[ta];
        if (dim % 2 != 0 || cos.Shape != new Shape(tokens, dim / 2) || sin.Shape != cos.Shape)
            throw new ArgumentException($"ApplyRope: input {x.Shape} (token axis {ta}) needs an even last dim and cos/sin of shape [{tokens}, {dim / 2}]; got cos {cos.Shape}, sin {sin.Shape}.");
        int outer = x.Shape.Prod(0, ta), inner = x.Shape.Prod(ta + 1, x.Rank - 1);
        var y = Tensor.Empty(x.Shape);
        RopeKernels.Apply(x.Span, cos.Span, sin.Span, y.Span, outer, tokens, inner, dim, inverse: false);
        return Autograd.Record(y, "ApplyRope", (g, _) =>
        {
            var dx = Tensor.Empty(x.Shape);
            RopeKernels.Apply(g.Span, cos.Span, sin.Span, dx.Span, outer, tokens, inner, dim, inverse: true);
            return new[] { dx };
        }, x);
    }
}
