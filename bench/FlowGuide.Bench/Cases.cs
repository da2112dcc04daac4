using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Bench;

/// <summary>The benchmark cases. Each mirrors one in bench/reference/torch_bench.py exactly (shapes, what is timed).</summary>
public static class Cases
{
    public static IEnumerable<BenchResult> Gemm(bool quick)
    {
        foreach (var n in quick ? new[] { 256, 1024 } : new[] { 256, 512, 1024, 2048 })
        {
            var a = Rand(1, n, n); var b = Rand(2, n, n); var c = new float[n * n];
            double flops = 2.0 * n * n * n;
            if (FlowGuide.Tensors.Kernels.Blas.IsAvailable)
                yield return Harness.Measure($"sgemm {n}", "blas", () => FlowGuide.Tensors.Kernels.Gemm.SgemmBlas(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n), flops);
            yield return Harness.Measure($"sgemm {n}", "managed", () => FlowGuide.Tensors.Kernels.Gemm.SgemmManaged(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n), flops);
        }
    }

    public static IEnumerable<BenchResult> Attention() => Array.Empty<BenchResult>();

    public static IEnumerable<BenchResult> Conv3d()
    {
        var rng = new Rng(0);
        var x = Tensor.Randn(rng, 1, 32, 8, 32, 32); x.RequiresGrad = true;
        var w = Tensor.Randn(rng, 32, 32, 3, 3, 3); w.RequiresGrad = true;
        var b = Tensor.Randn(rng, 32); b.RequiresGrad = true;
        var g = Tensor.Randn(rng, 1, 32, 8, 32, 32);
        yield return Harness.Measure("conv3d 3x3x3 fwd [1,32,8,32,32]", "flowguide", () =>
        {
            using var _ = GradMode.NoGrad();
            using var scope = new TensorScope();
            Ops.Conv3d(x, w, b, padding: 1);
        });
        yield return Harness.Measure("conv3d 3x3x3 fwd+bwd [1,32,8,32,32]", "flowguide", () =>
        {
            using var scope = new TensorScope();
            x.Grad = w.Grad = b.Grad = null;
            Ops.Conv3d(x, w, b, padding: 1).Backward(g);
        });
    }

    public static IEnumerable<BenchResult> Block() => Array.Empty<BenchResult>();

    public static IEnumerable<BenchResult> Memory() => Array.Empty<BenchResult>();

    internal static float[] Rand(int seed, int rows, int cols)
    {
        var r = new Random(seed);
        var d = new float[rows * cols];
        for (int i = 0; i < d.Length; i++) d[i] = (float)(r.NextDouble() * 2 - 1);
        return d;
    }
}
