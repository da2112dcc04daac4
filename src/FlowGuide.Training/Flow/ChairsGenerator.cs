using FlowGuide.Tensors;

namespace FlowGuide.Training.Flow;

/// <summary>One training pair: frames [1, 3, H, W] in [-1, 1] and the exact forward flow [1, 2, H, W] in pixels.</summary>
public sealed record FlowSample(Tensor Frame1, Tensor Frame2, Tensor Flow);

/// <summary>
/// FlyingChairs-style pairs with exact ground truth, procedurally: a textured background layer and 2-5 textured
/// shapes (ellipses and rectangles), each under its own random affine motion, composited back to front. Every layer
/// is rendered by backward mapping (image point to layer point through the layer's affine map, textures sampled with
/// <see cref="Ops.GridSample"/>), so the flow of a frame-1 pixel is exactly where its layer point lands in frame 2:
/// A2^-1(A1(p)) - p, taken from the front-most layer covering the pixel. Sample i depends only on (seed, i).
/// </summary>
public sealed class ChairsGenerator(int height = 64, int width = 64, ulong seed = 1)
{
    public int Height { get; } = height >= 8 ? height : throw new ArgumentException($"ChairsGenerator: height {height}, expected >= 8.");
    public int Width { get; } = width >= 8 ? width : throw new ArgumentException($"ChairsGenerator: width {width}, expected >= 8.");
    public ulong Seed { get; } = seed;

    /// <summary>Largest motion in pixels (about): translations up to this fraction of the image side.</summary>
    public float MaxShift { get; init; } = 0.12f;

    public FlowSample Sample(long index)
    {
        var rng = new Rng(unchecked(Seed * 0x9E3779B97F4A7C15UL + (ulong)index * 0xBF58476D1CE4E5B9UL + 0x632BE59BD9B4E5A7UL));
        int h = Height, w = Width, plane = h * w;
        var f1 = Tensor.Zeros(1, 3, h, w);
        var f2 = Tensor.Zeros(1, 3, h, w);
        var flow = new float[2 * plane];
        int shapes = 2 + rng.NextInt(4);
        for (int layer = 0; layer <= shapes; layer++)
        {
            bool background = layer == 0;
            // layer pose at frame 1 (image -> layer coordinates, both normalised to [-1, 1]) and its motion
            var a1 = background ? Affine.Random(rng, 0.9f, 1.1f, 0.1f, 0.1f) : Affine.Random(rng, 1.5f, 4f, 0.6f, 0.9f);
            var motion = Affine.Random(rng, 0.93f, 1.07f, 0.08f, background ? MaxShift * 0.5f : MaxShift);
            var a2 = a1.Then(motion.Inverse()); // p2 = motion(p1): A2 = A1 o motion^-1
            var texture = Texture(rng, background);
            bool ellipse = rng.Uniform() < 0.5f;
            var (grid1, alpha1) = Grid(a1, background, ellipse);
            var (grid2, alpha2) = Grid(a2, background, ellipse);
            Composite(f1, texture, grid1, alpha1);
            Composite(f2, texture, grid2, alpha2);
            // exact flow where this layer is the front-most at frame 1
            float sx = w / 2f, sy = h / 2f;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    if (alpha1[i] < 0.5f) continue;
                    float nx = (2 * x + 1f) / w - 1, ny = (2 * y + 1f) / h - 1;
                    var (mx, my) = motion.Apply(nx, ny);
                    flow[i] = (mx - nx) * sx;
                    flow[plane + i] = (my - ny) * sy;
                }
        }
        return new FlowSample(f1, f2, Tensor.FromArray(flow, 1, 2, h, w));
    }

    /// <summary>A batch of consecutive samples starting at <paramref name="first"/>, concatenated along N.</summary>
    public FlowSample Batch(long first, int count)
    {
        var s = Enumerable.Range(0, count).Select(i => Sample(first + i)).ToList();
        return new FlowSample(Ops.Concat(s.Select(x => x.Frame1).ToList(), 0), Ops.Concat(s.Select(x => x.Frame2).ToList(), 0),
                              Ops.Concat(s.Select(x => x.Flow).ToList(), 0));
    }

    /// <summary>Random RGB texture [1, 3, 32, 32]: a colour plus smooth noise at two scales, in [-1, 1].</summary>
    private static Tensor Texture(Rng rng, bool background)
    {
        var coarse = new float[3 * 6 * 6];
        var fine = new float[3 * 32 * 32];
        rng.FillNormal(coarse);
        rng.FillNormal(fine);
        var baseColour = new[] { rng.Uniform() * 2 - 1, rng.Uniform() * 2 - 1, rng.Uniform() * 2 - 1 };
        using var _ = GradMode.NoGrad();
        var t = Tensor.FromArray(coarse, 1, 3, 6, 6).UpsampleBilinear2d(32, 32).MulScalar(0.45f)
            .Add(Tensor.FromArray(fine, 1, 3, 32, 32).MulScalar(background ? 0.12f : 0.2f))
            .Add(Tensor.FromArray(baseColour, 1, 3, 1, 1).MulScalar(0.6f));
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = Math.Clamp(s[i], -1f, 1f);
        return t;
    }

    /// <summary>The sampling grid [1, H, W, 2] of a layer (layer coordinates of each pixel) and its coverage (soft over ~1 px).</summary>
    private (Tensor Grid, float[] Alpha) Grid(Affine a, bool background, bool ellipse)
    {
        int h = Height, w = Width;
        var g = new float[h * w * 2];
        var alpha = new float[h * w];
        float soft = 2f / Math.Min(h, w) * a.Scale; // about one pixel in layer units
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                float nx = (2 * x + 1f) / w - 1, ny = (2 * y + 1f) / h - 1;
                var (lx, ly) = a.Apply(nx, ny);
                g[2 * i] = lx; g[2 * i + 1] = ly;
                if (background) { alpha[i] = 1; continue; }
                float sdf = ellipse ? MathF.Sqrt(lx * lx + ly * ly) - 1f : Math.Max(Math.Abs(lx), Math.Abs(ly)) - 0.8f;
                alpha[i] = Math.Clamp(0.5f - sdf / soft, 0f, 1f);
            }
        return (Tensor.FromArray(g, 1, h, w, 2), alpha);
    }

    private static void Composite(Tensor frame, Tensor texture, Tensor grid, float[] alpha)
    {
        Tensor rgb;
        using (GradMode.NoGrad()) rgb = Ops.GridSample(texture, grid, alignCorners: false, GridPadding.Border);
        var f = frame.Span; var c = rgb.Span;
        int plane = alpha.Length;
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < plane; i++)
                f[ch * plane + i] += alpha[i] * (c[ch * plane + i] - f[ch * plane + i]);
    }

    /// <summary>2-D affine map p -> M p + t on normalised coordinates.</summary>
    private readonly record struct Affine(float A, float B, float C, float D, float Tx, float Ty)
    {
        /// <summary>Rotation, anisotropic scale in [lo, hi], a little shear, translation up to ±shift.</summary>
        public static Affine Random(Rng rng, float lo, float hi, float rotation, float shift)
        {
            float th = (rng.Uniform() * 2 - 1) * rotation * MathF.PI;
            float s = lo + (hi - lo) * rng.Uniform(), sy = s * (0.85f + 0.3f * rng.Uniform());
            float shear = (rng.Uniform() * 2 - 1) * 0.1f;
            float cos = MathF.Cos(th), sin = MathF.Sin(th);
            return new Affine(s * cos, s * (-sin + shear), sy * sin, sy * cos, (rng.Uniform() * 2 - 1) * shift * 2, (rng.Uniform() * 2 - 1) * shift * 2);
        }

        public float Scale => MathF.Sqrt(Math.Abs(A * D - B * C));

        public (float X, float Y) Apply(float x, float y) => (A * x + B * y + Tx, C * x + D * y + Ty);

        /// <summary>This map after <paramref name="first"/>: p -> this(first(p)).</summary>
        public Affine Then(Affine first) => new(
            A * first.A + B * first.C, A * first.B + B * first.D, C * first.A + D * first.C, C * first.B + D * first.D,
            A * first.Tx + B * first.Ty + Tx, C * first.Tx + D * first.Ty + Ty);

        public Affine Inverse()
        {
            float det = A * D - B * C;
            float ia = D / det, ib = -B / det, ic = -C / det, id = A / det;
            return new Affine(ia, ib, ic, id, -(ia * Tx + ib * Ty), -(ic * Tx + id * Ty));
        }
    }
}
