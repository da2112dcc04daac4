using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>The fixed linear operators of the estimator (grey conversion, blur, image and flow derivatives) as convolutions.</summary>
public sealed partial class ClassicalFlow
{
    /// <summary>Per-call constants: the step sizes folded into convolution kernels, built once per <see cref="Estimate"/>.</summary>
    private sealed class Constants
    {
        public Constants(ClassicalFlowOptions o, bool checkpoint)
        {
            Options = o;
            Checkpoint = checkpoint;
            Channels = o.Gamma > 0 ? 3 : 2;
            LambdaTheta = o.Lambda * o.Theta;
            GradientKernel = FlowGradientKernel(Channels, o.Tau / o.Theta);
            DivergenceKernel = FlowDivergenceKernel(Channels, o.Theta);
            ImageGradientKernel = CentralDifferenceKernel();
            Iterations = new TvL1Iterations.Parameters(Channels, LambdaTheta, o.Theta, o.Tau / o.Theta);
        }

        /// <summary>The fused iterations' constants (the same step sizes as the kernels above).</summary>
        public TvL1Iterations.Parameters Iterations { get; }

        public ClassicalFlowOptions Options { get; }
        /// <summary>Whether recorded runs checkpoint each warp's iterations.</summary>
        public bool Checkpoint { get; }
        /// <summary>Fields solved for: (u, v), plus the brightness change when Gamma &gt; 0.</summary>
        public int Channels { get; }
        public float LambdaTheta { get; }
        public Tensor GradientKernel { get; }
        public Tensor DivergenceKernel { get; }
        public Tensor ImageGradientKernel { get; }
    }

    /// <summary>Rec. 601 luma of RGB (or the single channel) mapped to [0, 255]: a 1x1 convolution with a bias.</summary>
    internal static Tensor ToGrey(Tensor frame, PixelRange range)
    {
        float scale = range == PixelRange.MinusOneToOne ? 127.5f : 255f;
        float offset = range == PixelRange.MinusOneToOne ? 127.5f : 0f;
        var weights = frame.Size(1) == 3
            ? new[] { 0.299f * scale, 0.587f * scale, 0.114f * scale }
            : new[] { scale };
        var w = Tensor.FromArray(weights, 1, frame.Size(1), 1, 1);
        return frame.Conv2d(w, Tensor.FromArray(new[] { offset }, 1)); // [N, 1, H, W]
    }

    /// <summary>
    /// Separable Gaussian blur of every channel of x [N, C, H, W] with edge replication, as two depthwise convolutions
    /// (radius ceil(3 sigma), at least 1, at most min(H, W) - 1); differentiable. The estimator's pyramid uses it.
    /// </summary>
    public static Tensor GaussianBlur(Tensor x, float sigma)
    {
        int c = x.Size(1);
        int r = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        r = Math.Min(r, Math.Min(x.Size(2), x.Size(3)) - 1);
        if (r < 1) return x;
        var taps = new float[2 * r + 1];
        double sum = 0;
        for (int i = -r; i <= r; i++) sum += taps[i + r] = (float)Math.Exp(-0.5 * i * i / (sigma * sigma));
        var kw = new float[c * taps.Length];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < taps.Length; i++) kw[ch * taps.Length + i] = (float)(taps[i] / sum);
        var row = Tensor.FromArray(kw, c, 1, 1, taps.Length);
        var col = Tensor.FromArray(kw, c, 1, taps.Length, 1);
        var padded = x.Pad(new[] { (0, 0), (0, 0), (r, r), (r, r) }, PadMode.Replicate);
        return padded.Conv2d(row, null, 1, 0, 1, c).Conv2d(col, null, 1, 0, 1, c);
    }

    /// <summary>(I - local mean) / local standard deviation over a Gaussian window, times 32 (about [0, 255] spread).</summary>
    internal static Tensor NormalizeContrast(Tensor grey, float sigma)
    {
        var centred = grey.Sub(GaussianBlur(grey, sigma));
        var std = GaussianBlur(centred.Square(), sigma).AddScalar(25f).Sqrt(); // floor of 5 grey levels: flat areas stay flat
        return centred.Div(std).MulScalar(32f);
    }

    /// <summary>Central differences of a grey image [N, 1, H, W] with edge replication: [N, 2, H, W] = (d/dx, d/dy).</summary>
    private static Tensor ImageGradient(Tensor grey, Constants c) =>
        grey.Pad(new[] { (0, 0), (0, 0), (1, 1), (1, 1) }, PadMode.Replicate).Conv2d(c.ImageGradientKernel);

    /// <summary>
    /// Forward differences of each field with Neumann boundaries (zero across the last row / column), scaled by
    /// <paramref name="u"/>'s kernel factor: [N, K, H, W] to [N, 2K, H, W] ordered (dx, dy) per field.
    /// </summary>
    private static Tensor ForwardGradient(Tensor u, Constants c) =>
        u.Pad(new[] { (0, 0), (0, 0), (0, 1), (0, 1) }, PadMode.Replicate)
         .Conv2d(c.GradientKernel, null, 1, 0, 1, c.Channels);

    /// <summary>
    /// The divergence, the negative adjoint of <see cref="ForwardGradient"/>: backward differences with zero outside,
    /// [N, 2K, H, W] to [N, K, H, W], scaled by theta. Exact as an adjoint as long as p's last column (x) and row (y) stay 0,
    /// which the dual update keeps.
    /// </summary>
    private static Tensor Divergence(Tensor p, Constants c) =>
        p.Conv2d(c.DivergenceKernel, null, new[] { 1, 1 }, new[] { (1, 0), (1, 0) }, null, c.Channels);

    private static Tensor CentralDifferenceKernel()
    {
        var k = new float[2 * 9]; // [2, 1, 3, 3]
        k[1 * 3 + 0] = -0.5f; k[1 * 3 + 2] = 0.5f;         // d/dx: row 1
        k[9 + 0 * 3 + 1] = -0.5f; k[9 + 2 * 3 + 1] = 0.5f; // d/dy: column 1
        return Tensor.FromArray(k, 2, 1, 3, 3);
    }

    private static Tensor FlowGradientKernel(int fields, float scale)
    {
        var k = new float[2 * fields * 4]; // [2K, 1, 2, 2]
        for (int f = 0; f < fields; f++)
        {
            int dx = (2 * f) * 4, dy = (2 * f + 1) * 4;
            k[dx + 0] = -scale; k[dx + 1] = scale; // u(y, x+1) - u(y, x)
            k[dy + 0] = -scale; k[dy + 2] = scale; // u(y+1, x) - u(y, x)
        }
        return Tensor.FromArray(k, 2 * fields, 1, 2, 2);
    }

    private static Tensor FlowDivergenceKernel(int fields, float scale)
    {
        var k = new float[fields * 2 * 4]; // [K, 2, 2, 2] over input zero-padded by one row above and one column left
        for (int f = 0; f < fields; f++)
        {
            int px = (f * 2) * 4, py = (f * 2 + 1) * 4;
            k[px + 3] = scale; k[px + 2] = -scale; // px(y, x) - px(y, x-1)
            k[py + 3] = scale; k[py + 1] = -scale; // py(y, x) - py(y-1, x)
        }
        return Tensor.FromArray(k, fields, 2, 2, 2);
    }
}
