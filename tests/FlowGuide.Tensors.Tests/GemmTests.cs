using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors.Tests;

public class GemmTests
{
    private delegate void SgemmFn(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc);

    private static float[] RandomArray(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return x;
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, int k, string context)
    {
        Assert.Equal(expected.Length, actual.Length);
        double tol = 1e-4 * Math.Sqrt(Math.Max(1, k));
        for (int i = 0; i < expected.Length; i++)
        {
            float y = expected[i], x = actual[i];
            if (float.IsNaN(y) || float.IsNaN(x) || Math.Abs(x - y) > tol * (1 + Math.Abs(y)))
            {
                Assert.Fail($"{context}: element {i} expected {y} but got {x}");
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="fn"/> and the scalar reference on identical random inputs (padded by
    /// the given extra leading-dimension slack) and compares the whole C buffer, padding included.
    /// </summary>
    private static void CheckAgainstScalar(SgemmFn fn, string name, bool ta, bool tb, int m, int n, int k,
        float alpha, float beta, int padA = 0, int padB = 0, int padC = 0, bool nanC = false, int seed = 0)
    {
        var rng = new Random(seed ^ (m * 7919 + n * 104729 + k * 31 + (ta ? 1 : 0) + (tb ? 2 : 0)));
        int aRows = ta ? k : m, aCols = ta ? m : k;
        int bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = Math.Max(1, aCols + padA), ldb = Math.Max(1, bCols + padB), ldc = Math.Max(1, n + padC);
        float[] a = RandomArray(rng, Math.Max(0, aRows * lda));
        float[] b = RandomArray(rng, Math.Max(0, bRows * ldb));
        float[] c0 = nanC ? Enumerable.Repeat(float.NaN, m * ldc).ToArray() : RandomArray(rng, m * ldc);
        if (nanC)
        {
            // Padding columns must stay untouched, so keep them finite and recognisable.
            for (int i = 0; i < m; i++)
            {
                for (int j = n; j < ldc; j++)
                {
                    c0[i * ldc + j] = 42f;
                }
            }
        }
        float[] expected = (float[])c0.Clone();
        float[] actual = (float[])c0.Clone();
        Gemm.SgemmScalar(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
        fn(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, actual, ldc);
        AssertClose(expected, actual, k, $"{name} ta={ta} tb={tb} m={m} n={n} k={k} alpha={alpha} beta={beta} pad=({padA},{padB},{padC})");
    }

    private static IEnumerable<(string Name, SgemmFn Fn)> Paths()
    {
        yield return ("managed", Gemm.SgemmManaged);
        yield return ("managed-v256", (ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc) =>
            Gemm.SgemmManaged(MicroKernel.V256, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc));
        yield return ("managed-v128", (ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc) =>
            Gemm.SgemmManaged(MicroKernel.V128, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc));
        yield return ("dispatch", Gemm.Sgemm);
        if (Blas.IsAvailable)
        {
            yield return ("blas", Blas.Sgemm);
        }
    }

    private static readonly int[] OddSizes = { 1, 3, 7, 17, 31, 33, 65 };

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void OddShapes_MatchScalar(bool ta, bool tb)
    {
        foreach (var (name, fn) in Paths())
        {
            foreach (int m in OddSizes)
            {
                foreach (int n in OddSizes)
                {
                    foreach (int k in new[] { 1, 7, 33 })
                    {
                        CheckAgainstScalar(fn, name, ta, tb, m, n, k, 1f, 0f);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void LargerShapes_CrossBlockBoundaries_MatchScalar(bool ta, bool tb)
    {
        // Sizes straddle the MR/NR tiles, the KC depth block and the threaded split.
        (int M, int N, int K)[] shapes = { (129, 257, 65), (257, 129, 400), (100, 3, 513), (3, 300, 129), (200, 200, 31), (5, 3200, 7) };
        foreach (var (name, fn) in Paths())
        {
            foreach (var (m, n, k) in shapes)
            {
                CheckAgainstScalar(fn, name, ta, tb, m, n, k, 0.75f, 0.5f);
            }
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void LeadingDimensionsLargerThanMinimum_MatchScalar(bool ta, bool tb)
    {
        foreach (var (name, fn) in Paths())
        {
            CheckAgainstScalar(fn, name, ta, tb, 17, 33, 31, 1.5f, 0f, padA: 5, padB: 3, padC: 7);
            CheckAgainstScalar(fn, name, ta, tb, 65, 70, 129, -1f, 1f, padA: 1, padB: 16, padC: 2);
            CheckAgainstScalar(fn, name, ta, tb, 40, 96, 20, 2f, -0.5f, padA: 13, padB: 1, padC: 32);
        }
    }

    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(1f, 1f)]
    [InlineData(-2f, 0.25f)]
    [InlineData(0f, 3f)]
    [InlineData(0.5f, -1f)]
    public void AlphaBetaCombinations_MatchScalar(float alpha, float beta)
    {
        foreach (var (name, fn) in Paths())
        {
            foreach (var (m, n, k) in new[] { (7, 9, 5), (33, 65, 17), (64, 64, 64) })
            {
                CheckAgainstScalar(fn, name, false, false, m, n, k, alpha, beta, padC: 3);
                CheckAgainstScalar(fn, name, true, true, m, n, k, alpha, beta);
            }
        }
    }

    [Fact]
    public void BetaZero_OverwritesNaNInC()
    {
        foreach (var (name, fn) in Paths())
        {
            foreach (var (m, n, k) in new[] { (1, 1, 1), (13, 37, 9), (96, 128, 64), (5, 4, 0) })
            {
                CheckAgainstScalar(fn, name, false, false, m, n, k, 1f, 0f, padC: 2, nanC: true);
                CheckAgainstScalar(fn, name, true, false, m, n, k, 0f, 0f, nanC: true);
            }
        }
    }

    [Fact]
    public void BetaOne_Accumulates()
    {
        var rng = new Random(3);
        int m = 31, n = 45, k = 23;
        float[] a = RandomArray(rng, m * k), b = RandomArray(rng, k * n);
        foreach (var (name, fn) in Paths())
        {
            var c = new float[m * n];
            var once = new float[m * n];
            fn(false, false, m, n, k, 1f, a, k, b, n, 0f, once, n);
            for (int rep = 0; rep < 3; rep++)
            {
                fn(false, false, m, n, k, 1f, a, k, b, n, 1f, c, n);
            }
            var expected = once.Select(x => 3 * x).ToArray();
            AssertClose(expected, c, 3 * k, name);
        }
    }

    [Fact]
    public void ZeroDimensions_AreNoOpsOrScaleC()
    {
        foreach (var (name, fn) in Paths())
        {
            // m == 0 / n == 0: nothing happens, even with empty spans.
            fn(false, false, 0, 5, 3, 1f, Array.Empty<float>(), 3, new float[15], 5, 0f, Array.Empty<float>(), 5);
            var untouched = new float[] { 1, 2, 3 };
            fn(false, false, 3, 0, 4, 1f, new float[12], 4, Array.Empty<float>(), 1, 0f, untouched, 1);
            Assert.Equal(new float[] { 1, 2, 3 }, untouched);

            // k == 0: op(A) @ op(B) is the zero matrix, so C = beta * C.
            var c = new float[] { 1, 2, float.NaN, 4 };
            fn(false, false, 2, 2, 0, 1f, Array.Empty<float>(), 1, Array.Empty<float>(), 2, 0f, c, 2);
            Assert.Equal(new float[] { 0, 0, 0, 0 }, c);
            var c2 = new float[] { 1, 2, 3, 4 };
            fn(true, true, 2, 2, 0, 1f, Array.Empty<float>(), 2, Array.Empty<float>(), 1, 2f, c2, 2);
            Assert.Equal(new float[] { 2, 4, 6, 8 }, c2);
            _ = name;
        }
    }

    [Fact]
    public void Batched_WithBroadcastStrides_MatchesPerMatrix()
    {
        var rng = new Random(11);
        foreach (var (batch, m, n, k) in new[] { (6, 5, 7, 3), (40, 16, 16, 16), (3, 130, 70, 90), (1, 4, 4, 4) })
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    foreach (var (broadcastA, broadcastB) in new[] { (false, false), (true, false), (false, true) })
                    {
                        long strideA = broadcastA ? 0 : m * k, strideB = broadcastB ? 0 : k * n, strideC = m * n + 2;
                        float[] a = RandomArray(rng, (int)(broadcastA ? m * k : batch * m * k));
                        float[] b = RandomArray(rng, (int)(broadcastB ? k * n : batch * k * n));
                        float[] c = RandomArray(rng, (int)((batch - 1) * strideC + m * n));
                        float[] expected = (float[])c.Clone();
                        for (int i = 0; i < batch; i++)
                        {
                            Gemm.SgemmScalar(ta, tb, m, n, k, 1.25f,
                                a.AsSpan((int)(i * strideA), m * k), ta ? m : k,
                                b.AsSpan((int)(i * strideB), k * n), tb ? k : n, 0.5f,
                                expected.AsSpan((int)(i * strideC), m * n), n);
                        }
                        Gemm.SgemmBatched(batch, ta, tb, m, n, k, 1.25f, a, strideA, b, strideB, 0.5f, c, strideC);
                        AssertClose(expected, c, k, $"batched batch={batch} m={m} n={n} k={k} ta={ta} tb={tb} bA={broadcastA} bB={broadcastB}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Batched_InvalidArguments_Throw()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Gemm.SgemmBatched(2, false, false, 2, 2, 2, 1f, new float[8], 4, new float[8], 4, 0f, new float[8], 0));
        Assert.Contains("strideC", ex.Message);
        ex = Assert.Throws<ArgumentException>(() =>
            Gemm.SgemmBatched(3, false, false, 2, 2, 2, 1f, new float[8], 4, new float[12], 4, 0f, new float[12], 4));
        Assert.Contains("A needs at least 12", ex.Message);
        Assert.Throws<ArgumentException>(() =>
            Gemm.SgemmBatched(-1, false, false, 2, 2, 2, 1f, new float[8], 4, new float[8], 4, 0f, new float[8], 4));
    }

    [Fact]
    public void InvalidArguments_ThrowWithDescriptiveMessage()
    {
        var a = new float[12];
        var b = new float[12];
        var c = new float[9];

        var ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, -1, 3, 4, 1f, a, 4, b, 3, 0f, c, 3));
        Assert.Contains("Sgemm", ex.Message);
        Assert.Contains("m=-1", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 3, 3, 4, 1f, a, 3, b, 3, 0f, c, 3));
        Assert.Contains("lda=3", ex.Message);
        Assert.Contains("at least 4", ex.Message);

        // Transposed A is stored k x m = 4x3, so lda=3 is valid; B (4x3, ldb=3) and C fit too.
        Gemm.Sgemm(true, false, 3, 3, 4, 1f, a, 3, b, 3, 0f, c, 3);

        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, true, 3, 3, 4, 1f, a, 4, b, 3, 0f, c, 3));
        Assert.Contains("ldb=3", ex.Message);
        Assert.Contains("transposed", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 3, 3, 4, 1f, a, 4, new float[11], 3, 0f, c, 3));
        Assert.Contains("B has 11 elements", ex.Message);
        Assert.Contains("needs at least 12", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 3, 3, 4, 1f, a, 4, b, 3, 0f, new float[10], 4));
        Assert.Contains("C has 10 elements", ex.Message);
        Assert.Contains("needs at least 11", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 3, 3, 4, 1f, a, 4, b, 3, 0f, c, 2));
        Assert.Contains("ldc=2", ex.Message);

        Assert.Throws<ArgumentException>(() => Gemm.SgemmManaged(false, false, 3, 3, 4, 1f, new float[5], 4, b, 3, 0f, c, 3));
    }

    [Fact]
    public void Backend_IsDescribed()
    {
        string backend = Gemm.Backend;
        Assert.False(string.IsNullOrWhiteSpace(backend));
        if (Blas.IsAvailable)
        {
            Assert.Contains(Blas.LibraryName!, backend);
        }
        else
        {
            Assert.StartsWith("managed", backend);
        }
    }

    [Fact]
    public void ParallelismFor_CoversRangeWithContiguousChunks()
    {
        var seen = new int[1000];
        var chunks = new System.Collections.Concurrent.ConcurrentBag<(int, int)>();
        Parallelism.For(1000, 100, (s, e) =>
        {
            chunks.Add((s, e));
            for (int i = s; i < e; i++) Interlocked.Increment(ref seen[i]);
        });
        Assert.All(seen, x => Assert.Equal(1, x));
        Assert.True(chunks.Count <= Parallelism.NumThreads);
        Assert.All(chunks, ch => Assert.True(ch.Item2 - ch.Item1 >= 100 || chunks.Count == 1));

        int calls = 0;
        Parallelism.For(5, 100, (s, e) => { calls++; Assert.Equal((0, 5), (s, e)); });
        Assert.Equal(1, calls);
        Parallelism.For(0, 1, (_, _) => Assert.Fail("empty range must not call the body"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.NumThreads = 0);

        int expectedChunks = Parallelism.ChunkCount(997, 10);
        var partial = new long[expectedChunks];
        Parallelism.For(997, 10, (s, e, chunk) =>
        {
            Assert.Equal(Parallelism.ChunkBounds(997, expectedChunks, chunk), (s, e));
            for (int i = s; i < e; i++) partial[chunk] += i;
        });
        Assert.Equal(997L * 996 / 2, partial.Sum());
    }
}
