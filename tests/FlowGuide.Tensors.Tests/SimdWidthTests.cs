using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>
/// Every vector width of the fused-kernel building blocks (tile GEMM, fast exp row passes, RoPE) against its scalar
/// twin, forced through the internal width overloads so a 512-bit machine also checks the 256- and 128-bit paths.
/// Sizes straddle every block and tail boundary: 6/4/1-row blocks, two-vector / one-vector / scalar columns.
/// </summary>
public class SimdWidthTests
{
    /// <summary>Vector bits per width; the test methods take ints because <see cref="MicroKernel"/> is internal.</summary>
    public static readonly TheoryData<int> Widths = new() { 512, 256, 128 };

    private static MicroKernel Kind(int bits) => bits switch { 512 => MicroKernel.V512, 256 => MicroKernel.V256, _ => MicroKernel.V128 };

    public static TheoryData<int, int, int, int, bool> GemmCases()
    {
        var data = new TheoryData<int, int, int, int, bool>();
        var shapes = new (int M, int N, int K)[]
        {
            (1, 1, 1), (3, 5, 2), (4, 8, 3), (5, 9, 7), (6, 16, 4), (7, 17, 5), (10, 24, 9), (11, 33, 1),
            (13, 31, 6), (64, 128, 64), (64, 64, 128), (37, 70, 24), (2, 64, 3), (9, 15, 0),
        };
        foreach (int bits in new[] { 512, 256, 128 })
            foreach (var (m, n, k) in shapes)
                foreach (bool transA in new[] { false, true })
                    data.Add(bits, m, n, k, transA);
        return data;
    }

    [Theory]
    [MemberData(nameof(GemmCases))]
    public unsafe void BlockGemmEveryWidthMatchesScalarTwin(int bits, int m, int n, int k, bool transA)
    {
        var kind = Kind(bits);
        foreach (bool accumulate in new[] { false, true })
        {
            int lda = (transA ? m : k) + 3, ldb = n + 5, ldc = n + 2;
            var a = Randn(m + n, Math.Max(1, (transA ? k : m) * lda)).ToArray();
            var b = Randn(k + 1, Math.Max(1, k * ldb)).ToArray();
            var c0 = Randn(7, m * ldc).ToArray();
            var fast = (float[])c0.Clone();
            var slow = (float[])c0.Clone();
            fixed (float* pa = a, pb = b, pf = fast, ps = slow)
            {
                BlockGemm.Run(kind, pa, lda, transA, pb, ldb, pf, ldc, m, n, k, -0.7f, accumulate);
                BlockGemm.RunScalar(pa, lda, transA, pb, ldb, ps, ldc, m, n, k, -0.7f, accumulate);
            }
            // Whole arrays: the padding columns between n and ldc must be untouched.
            AssertClose(slow, fast, 1e-4f, 1e-4f, $"{kind} accumulate={accumulate}");
        }
    }

    private static float[] ExpInputs(int n, int seed)
    {
        var x = Uniform(seed, -30f, 10f, Math.Max(1, n)).ToArray()[..n];
        // Specials where the tail or a lane can see them: underflow to 0, saturation, NaN, exact zero.
        if (n > 0) x[n - 1] = -200f;
        if (n > 1) x[0] = 0f;
        if (n > 5) x[5] = 150f;
        if (n > 9) x[9] = float.NaN;
        if (n > 2) x[n / 2] = -88f;
        return x;
    }

    private static void AssertSameExp(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNaN(expected[i])) { Assert.True(float.IsNaN(actual[i]), $"{what}: [{i}] expected NaN, got {actual[i]}"); continue; }
            float tol = 6e-7f * Math.Abs(expected[i]);  // bit-equal with FMA; a few ulp where MultiplyAddEstimate is unfused
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}: [{i}] expected {expected[i]}, got {actual[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void FastExpRowPassesEveryWidthMatchScalar(int bits)
    {
        var kind = Kind(bits);
        foreach (int n in new[] { 0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 128, 130 })
        {
            const float shift = 1.25f;
            var x = ExpInputs(n, n + 1);
            var expected = x.Select(v => FastExp.ExpScalar(v - shift)).ToArray();
            var fast = (float[])x.Clone();
            float sum;
            fixed (float* pf = fast) sum = FastExp.ExpShiftSum(kind, pf, n, shift);
            AssertSameExp(expected, fast, $"{kind} ExpShiftSum n={n}");
            float expectedSum = 0f;
            foreach (float v in expected) expectedSum += v;
            if (n > 9) Assert.True(float.IsNaN(sum), $"{kind} n={n}: NaN input must reach the sum");
            else Assert.True(Math.Abs(expectedSum - sum) <= 1e-5f * Math.Abs(expectedSum) + 1e-30f, $"{kind} n={n}: sum {sum} vs {expectedSum}");

            var fast2 = (float[])x.Clone();
            fixed (float* pf = fast2) FastExp.ExpShift(kind, pf, n, shift);
            AssertSameExp(expected, fast2, $"{kind} ExpShift n={n}");

            var p = Randn(n + 50, Math.Max(1, n)).ToArray()[..n];
            var row = Randn(n + 60, Math.Max(1, n)).ToArray()[..n];
            var want = row.Select((v, i) => p[i] * (v - shift)).ToArray();
            fixed (float* pr = row, pp = p) FastExp.ShiftMul(kind, pr, pp, n, shift);
            AssertClose(want, row, 0f, 0f, $"{kind} ShiftMul n={n}");
        }
    }

    /// <summary>Inputs for the activations: ordinary values, the tails where exp saturates, zeros, infinities and NaN.</summary>
    private static float[] ActivationInputs(int seed, int n)
    {
        var x = Uniform(seed, -12f, 12f, Math.Max(1, n)).ToArray()[..n];
        var special = new[] { 0f, -0f, 60f, -60f, 100f, -100f, float.NaN, 1e-20f, -3.5f };
        for (int i = 0; i < Math.Min(n, special.Length); i++) x[(i * 7) % n] = special[i];
        return x;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void ActivationPassesEveryWidthMatchScalarTwins(int bits)
    {
        var kind = Kind(bits);
        foreach (int n in new[] { 0, 1, 3, 4, 5, 8, 9, 15, 16, 17, 33, 130, 1000 })
        {
            var x = ActivationInputs(n + 11, n);
            var g = Randn(n + 12, Math.Max(1, n)).ToArray()[..n];
            var y = new float[n];
            fixed (float* px = x, py = y) Activations.Gelu(kind, px, py, n);
            AssertSameExp(x.Select(Activations.GeluScalar).ToArray(), y, $"{kind} Gelu n={n}");
            fixed (float* px = x, py = y) Activations.Silu(kind, px, py, n);
            AssertSameExp(x.Select(Activations.SiluScalar).ToArray(), y, $"{kind} Silu n={n}");
            fixed (float* px = x, pg = g, py = y) Activations.GeluBackward(kind, px, pg, py, n);
            AssertSameExp(x.Select((v, i) => Activations.GeluBackwardScalar(v, g[i])).ToArray(), y, $"{kind} GeluBackward n={n}");
            fixed (float* px = x, pg = g, py = y) Activations.SiluBackward(kind, px, pg, py, n);
            AssertSameExp(x.Select((v, i) => Activations.SiluBackwardScalar(v, g[i])).ToArray(), y, $"{kind} SiluBackward n={n}");
            // in place: the output may be the input
            var inPlace = (float[])x.Clone();
            fixed (float* pp = inPlace) Activations.Gelu(kind, pp, pp, n);
            AssertSameExp(x.Select(Activations.GeluScalar).ToArray(), inPlace, $"{kind} Gelu in place n={n}");
        }
    }

    [Fact]
    public void ActivationScalarTwinsTrackTheDefinitions()
    {
        // against the textbook forms in double precision: 0.5 x (1 + tanh(c (x + a x^3))) and x / (1 + e^-x), and their derivatives
        foreach (float v in Uniform(5, -10f, 10f, 4096).ToArray().Concat(new[] { 0f, 1e-3f, -1e-3f, 30f, -30f }))
        {
            double x = v, c = 0.7978845608028654, a = 0.044715, th = Math.Tanh(c * (x + a * x * x * x));
            double gelu = 0.5 * x * (1 + th), dgelu = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * c * (1 + 3 * a * x * x);
            double sig = 1 / (1 + Math.Exp(-x)), silu = x * sig, dsilu = sig * (1 + x * (1 - sig));
            Assert.True(Math.Abs(Activations.GeluScalar(v) - gelu) <= 2e-6 * Math.Abs(gelu) + 1e-7, $"gelu({v}) = {Activations.GeluScalar(v)}, expected {gelu}");
            Assert.True(Math.Abs(Activations.SiluScalar(v) - silu) <= 2e-6 * Math.Abs(silu) + 1e-7, $"silu({v}) = {Activations.SiluScalar(v)}, expected {silu}");
            Assert.True(Math.Abs(Activations.GeluBackwardScalar(v, 1f) - dgelu) <= 2e-6 * Math.Abs(dgelu) + 1e-6, $"gelu'({v}) = {Activations.GeluBackwardScalar(v, 1f)}, expected {dgelu}");
            Assert.True(Math.Abs(Activations.SiluBackwardScalar(v, 1f) - dsilu) <= 2e-6 * Math.Abs(dsilu) + 1e-6, $"silu'({v}) = {Activations.SiluBackwardScalar(v, 1f)}, expected {dsilu}");
        }
    }

    [Fact]
    public void ExpScalarTracksMathFExp()
    {
        var x = Uniform(3, -87f, 88f, 4096).ToArray();
        foreach (float v in x)
        {
            float e = FastExp.ExpScalar(v), r = MathF.Exp(v);
            Assert.True(Math.Abs(e - r) <= 4e-7f * r, $"exp({v}) = {e}, MathF.Exp {r}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void RopeEveryWidthMatchesScalarTwin(int bits)
    {
        var kind = Kind(bits);
        foreach (var (outer, tokens, inner, dim) in new[] { (1, 1, 1, 2), (2, 3, 1, 6), (1, 3, 2, 8), (1, 2, 1, 14), (2, 2, 3, 16),
                     (1, 5, 1, 18), (1, 3, 2, 30), (1, 3, 1, 32), (1, 17, 3, 34), (2, 5, 2, 64), (1, 4, 2, 128), (1, 7, 1, 510) })
        {
            var x = Randn(outer + dim, outer * tokens * inner * dim).ToArray();
            var cos = Randn(2, tokens * dim / 2).ToArray();
            var sin = Randn(3, tokens * dim / 2).ToArray();
            foreach (bool inverse in new[] { false, true })
            {
                var fast = new float[x.Length];
                var slow = new float[x.Length];
                RopeKernels.Apply(kind, x, cos, sin, fast, outer, tokens, inner, dim, inverse);
                RopeKernels.ApplyScalar(x, cos, sin, slow, outer, tokens, inner, dim, inverse);
                AssertClose(slow, fast, 1e-6f, 1e-6f, $"{kind} dim={dim} inverse={inverse}");
                // In place (y aliases x), as the backward pass uses it.
                var inPlace = (float[])x.Clone();
                RopeKernels.Apply(kind, inPlace, cos, sin, inPlace, outer, tokens, inner, dim, inverse);
                AssertClose(slow, inPlace, 1e-6f, 1e-6f, $"{kind} dim={dim} inverse={inverse} in place");
            }
        }
    }

    [Fact]
    public void DefaultWidthIsTheWidestAccelerated()
    {
        var expected = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? MicroKernel.V512
            : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? MicroKernel.V256 : MicroKernel.V128;
        Assert.Equal(expected, ManagedGemm.Default);
    }
}
