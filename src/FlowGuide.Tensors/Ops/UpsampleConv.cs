namespace FlowGuide.Tensors;

public static partial class Ops
{
    // Mixing matrix from a 3x3 kernel (tap k*3 + l) to the four 2x2 phase kernels (index ((a*2 + b)*2 + p)*2 + q).
    // Row phase a of the 2x upsampled image reads input rows {i-1, i} (a = 0) or {i, i+1} (a = 1); the 3x3 taps that
    // fall on the same input row add up: R0 = [[1,0,0],[0,1,1]], R1 = [[1,1,0],[0,0,1]]. Columns alike.
    private static readonly float[] PhaseMix = BuildPhaseMix();

    private static float[] BuildPhaseMix()
    {
        int[,,] r = { { { 1, 0, 0 }, { 0, 1, 1 } }, { { 1, 1, 0 }, { 0, 0, 1 } } }; // [phase, p, k]
        var m = new float[9 * 16];
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 3; l++)
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++)
                        for (int p = 0; p < 2; p++)
                            for (int q = 0; q < 2; q++)
                                m[(k * 3 + l) * 16 + ((a * 2 + b) * 2 + p) * 2 + q] = r[a, p, k] * r[b, q, l];
        return m;
    }

    /// <summary>
    /// Nearest-neighbour 2x upsampling of the last two axes followed by a 3x3 convolution with zero padding 1 (stride 1,
    /// no dilation, one group) — the decoder upsampling step of the VAEs — computed on the low-resolution input:
    /// each of the four output phases (even/odd row, even/odd column) is a 2x2 convolution whose taps are sums of the 3x3
    /// taps that land on the same input pixel. That is 16/36 of the multiply-adds of upsampling first, and the upsampled
    /// image never exists. The four phase kernels run as one convolution (2x2 windows, padding 1, 4·O output channels);
    /// each phase then takes its shifted window and the phases are interleaved. Built from differentiable ops, so the
    /// gradients reach x, the weight and the bias.
    /// x [N, C, H, W] with weight [O, C, 3, 3], or x [N, C, T, H, W] (frame by frame) with weight [O, C, 1, 3, 3];
    /// bias [O] or null. Result [N, O, 2H, 2W] or [N, O, T, 2H, 2W], equal up to rounding to
    /// <c>x.UpsampleNearest(2, 2).Conv2d(weight, bias, padding: 1)</c> (or the frame-wise Conv3d).
    /// </summary>
    public static Tensor UpsampleNearest2xConv3x3(this Tensor x, Tensor weight, Tensor? bias = null)
    {
        const string op = "UpsampleNearest2xConv3x3";
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        bool video = x.Rank == 5;
        if (x.Rank is not (4 or 5))
            throw new ArgumentException($"{op}: x must be [N, C, H, W] or [N, C, T, H, W], got {x.Shape}.", nameof(x));
        int c = x.Size(1);
        bool kernelOk = video
            ? weight.Rank == 5 && weight.Size(2) == 1 && weight.Size(3) == 3 && weight.Size(4) == 3
            : weight.Rank == 4 && weight.Size(2) == 3 && weight.Size(3) == 3;
        if (!kernelOk || weight.Size(1) != c)
            throw new ArgumentException($"{op}: weight must be [O, {c}, {(video ? "1, " : "")}3, 3] for x {x.Shape}, got {weight.Shape}.", nameof(weight));
        int o = weight.Size(0);
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != o))
            throw new ArgumentException($"{op}: bias must be [{o}], got {bias.Shape}.", nameof(bias));

        // 1. the four 2x2 phase kernels, stacked phase-major: [4·O, C, (1,) 2, 2]
        var mix = Tensor.FromArray(PhaseMix, 9, 16);
        var phases = Matmul(Reshape(weight, o * c, 9), mix)                             // [O·C, 16]
            .Reshape(o, c, 4, 2, 2).Permute(2, 0, 1, 3, 4).Reshape(4 * o, c, 2, 2);      // [4·O, C, 2, 2]
        var b4 = bias is null ? null : Concat(new[] { bias, bias, bias, bias }, 0);      // [4·O]

        // 2. every phase at every 2x2 window of the input padded by one: [N, 4·O, (T,) H + 1, W + 1]
        var y = video
            ? Conv3d(x, phases.Reshape(4 * o, c, 1, 2, 2), b4, new[] { 1, 1, 1 }, new[] { (0, 0), (1, 1), (1, 1) })
            : Conv2d(x, phases, b4, new[] { 1, 1 }, new[] { (1, 1), (1, 1) });

        // 3. phase (a, b) is the window shifted by (a, b): out[.., 2i + a, 2j + b] = y[(2a + b)·O + o, .., i + a, j + b]
        return InterleavePhases(y, o);
    }

    /// <summary>
    /// y [N, 4·O, (T,) H + 1, W + 1] (the phase-major output of step 2 above) → [N, O, (T,) 2H, 2W] in one pass, and its
    /// adjoint (the row and column of each phase's window that it does not use get no gradient).
    /// </summary>
    private static Tensor InterleavePhases(Tensor y, int o)
    {
        int n = y.Size(0), frames = y.Rank == 5 ? y.Size(2) : 1, h = y.Size(y.Rank - 2) - 1, w = y.Size(y.Rank - 1) - 1;
        var dims = y.Shape.ToArray();
        dims[1] = o; dims[^2] = 2 * h; dims[^1] = 2 * w;
        var result = Tensor.Empty(Shape.Wrap(dims));
        int planes = n * o * frames;
        Kernels.Parallelism.For(planes, Math.Max(1, 16384 / (4 * h * w)), (p0, p1) => Interleave(y.Span, result.Span, p0, p1, o, frames, h, w, adjoint: false));
        return Autograd.Record(result, "UpsampleNearest2xConv3x3", (g, _) =>
        {
            var dy = Tensor.Zeros(y.Shape);
            Kernels.Parallelism.For(planes, Math.Max(1, 16384 / (4 * h * w)), (p0, p1) => Interleave(dy.Span, g.Span, p0, p1, o, frames, h, w, adjoint: true));
            return new[] { dy };
        }, y);
    }

    // Output planes [p0, p1) (plane = (n, o, t)): copy from the phases (adjoint: the phases' windows receive the output
    // gradient; every y element is read by at most one output element, so the planes are independent).
    private static void Interleave(Span<float> y, Span<float> outp, int p0, int p1, int o, int frames, int h, int w, bool adjoint)
    {
        int ph = h + 1, pw = w + 1, ow = 2 * w;
        long phasePlane = (long)frames * ph * pw;                      // one channel of y
        for (int p = p0; p < p1; p++)
        {
            int t = p % frames, oc = p / frames % o, b0 = p / frames / o;
            var dst = outp.Slice((int)((long)p * 4 * h * w), 4 * h * w);
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                {
                    long ch = (long)b0 * 4 * o + (a * 2 + b) * o + oc;
                    var src = y.Slice((int)(ch * phasePlane + (long)t * ph * pw), ph * pw);
                    for (int i = 0; i < h; i++)
                    {
                        var srow = src.Slice((i + a) * pw + b, w);
                        var drow = dst.Slice((2 * i + a) * ow, ow);
                        if (adjoint) for (int j = 0; j < w; j++) srow[j] = drow[2 * j + b];
                        else for (int j = 0; j < w; j++) drow[2 * j + b] = srow[j];
                    }
                }
        }
    }
}
