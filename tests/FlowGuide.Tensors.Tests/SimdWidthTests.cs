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
