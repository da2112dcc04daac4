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

    /// <summary>
    /// The shipped transformer's linear layers (y = x W^T, W [N, K] row-major) at the row counts of a batch of one
    /// (320 tokens), a CFG batch of two (640) and the text context (32): whether a batch of one pays a fixed cost
    /// (packing the weight) that a batch of two shares.
    /// </summary>
    public static IEnumerable<BenchResult> Linear()
    {
        foreach (var (k, n) in new[] { (256, 256), (256, 1024), (1024, 256) })
            foreach (var m in new[] { 32, 320, 640 })
            {
                var x = Rand(1, m, k); var w = Rand(2, n, k); var y = new float[m * n];
                yield return Harness.Measure($"linear {m}x{k} -> {n}", "managed", () =>
                    FlowGuide.Tensors.Kernels.Gemm.SgemmManaged(false, true, m, n, k, 1f, x, k, w, k, 0f, y, n), 2.0 * m * n * k);
            }
    }

    /// <summary>
    /// The non-GEMM ops of one transformer block at the shipped model's batch-of-one size ([1, 320, 256], 4 heads x 64),
    /// forward only, no tape: what a block spends outside its matrix products.
    /// </summary>
    public static IEnumerable<BenchResult> BlockOps()
    {
        var rng = new Rng(0);
        var x = Tensor.Randn(rng, 1, 320, 256);
        var x2 = Tensor.Randn(rng, 1, 320, 256);
        var row = Tensor.Randn(rng, 1, 1, 256);
        var heads = Tensor.Randn(rng, 1, 320, 4, 64);
        var q = Tensor.Randn(rng, 1, 4, 320, 64);
        var (cos, sin) = Ops.RopeFrequencies(5, 8, 8, 64);
        var ops = new (string Name, Func<Tensor> Op)[]
        {
            ("add", () => Ops.Add(x, x2)),
            ("mul by [1,1,256]", () => Ops.Mul(x, row)),
            ("add [1,1,256]", () => Ops.Add(x, row)),
            ("add scalar", () => Ops.AddScalar(x, 1f)),
            ("layernorm", () => Ops.LayerNorm(x, 256, null, null, 1e-6f)),
            ("gelu [1,320,1024]", () => Ops.Gelu(Ops.Reshape(Ops.Concat(new[] { x, x2, x, x2 }, 2), 1, 320, 1024))),
            ("concat to [1,320,1024] (part of the gelu case)", () => Ops.Concat(new[] { x, x2, x, x2 }, 2)),
            ("permute [1,320,4,64] -> [1,4,320,64]", () => Ops.Permute(heads, 0, 2, 1, 3)),
            ("rope [1,4,320,64]", () => Ops.ApplyRope(q, cos, sin)),
            ("attention 4 heads 320x320x64", () => Ops.ScaledDotProductAttention(q, q, q)),
        };
        foreach (var (name, op) in ops)
            yield return Harness.Measure($"block op {name}", "flowguide", () =>
            {
                using var _ = GradMode.NoGrad();
                using var scope = new TensorScope();
                op();
            });
    }

    public static IEnumerable<BenchResult> Attention()
    {
        var rng = new Rng(0);
        Tensor Leaf() { var t = Tensor.Randn(rng, 1, 4, 1280, 64); t.RequiresGrad = true; return t; }
        var (q, k, v) = (Leaf(), Leaf(), Leaf());
        var g = Tensor.Randn(rng, 1, 4, 1280, 64);
        yield return Harness.Measure("attention fwd B1 H4 L1280 D64", "flowguide", () =>
        {
            using var _ = GradMode.NoGrad();
            using var scope = new TensorScope();
            Ops.ScaledDotProductAttention(q, k, v);
        });
        yield return Harness.Measure("attention fwd+bwd B1 H4 L1280 D64", "flowguide", () =>
        {
            using var scope = new TensorScope();
            q.Grad = k.Grad = v.Grad = null;
            Ops.ScaledDotProductAttention(q, k, v).Backward(g);
        });
    }

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

    public static IEnumerable<BenchResult> Block()
    {
        var rng = new Rng(0);
        var block = new BenchBlock(rng);
        var x = Tensor.Randn(rng, 1, 1280, 256); x.RequiresGrad = true;
        var g = Tensor.Randn(rng, 1, 1280, 256);
        yield return Harness.Measure("block fwd W256 H4 FFN1024 L1280", "flowguide", () =>
        {
            using var _ = GradMode.NoGrad();
            using var scope = new TensorScope();
            block.Forward(x);
        });
        yield return Harness.Measure("block fwd+bwd W256 H4 FFN1024 L1280", "flowguide", () =>
        {
            using var scope = new TensorScope();
            foreach (var p in block.Parameters) p.Grad = null;
            x.Grad = null;
            block.Forward(x).Backward(g);
        });
    }

    /// <summary>Peak live tensor bytes of a no-grad forward through N blocks (one scope per block), for growing N.</summary>
    public static IEnumerable<BenchResult> Memory()
    {
        var rng = new Rng(0);
        var input = Tensor.Randn(rng, 1, 1280, 256);
        foreach (var n in new[] { 1, 4, 16 })
        {
            var blocks = Enumerable.Range(0, n).Select(_ => new BenchBlock(rng)).ToArray();
            GC.Collect(); GC.WaitForPendingFinalizers();
            BufferPool.ResetPeak();
            long start = BufferPool.LiveBytes;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using (GradMode.NoGrad())
            {
                var x = input;
                foreach (var b in blocks)
                {
                    using var scope = new TensorScope();
                    var y = scope.Keep(b.Forward(x));
                    if (x != input) x.Dispose();
                    x = y;
                }
            }
            double ms = sw.Elapsed.TotalMilliseconds;
            yield return new BenchResult($"no-grad forward, {n} blocks", "flowguide", ms, ms, 1, null, BufferPool.PeakLiveBytes - start,
                "(peak live tensor bytes above the weights and input)");
        }
    }

    internal static float[] Rand(int seed, int rows, int cols)
    {
        var r = new Random(seed);
        var d = new float[rows * cols];
        for (int i = 0; i < d.Length; i++) d[i] = (float)(r.NextDouble() * 2 - 1);
        return d;
    }
}
