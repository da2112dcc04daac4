namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Single-precision general matrix multiply (row-major, BLAS semantics). Dispatches to a native
/// CBLAS found at run time (see <see cref="Backend"/>) for problems big enough to amortise the
/// call, otherwise to a packed, register-tiled managed kernel; both honour
/// <see cref="Parallelism.NumThreads"/>.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// Problems with m*n*k below this run managed even when BLAS is available. Measured on the
    /// target box (OpenBLAS 0.3.21): cblas_sgemm costs ~0.08 us for 2x2x2 and beats the packed
    /// managed kernel at every size up to 64^3, so there is no crossover and only empty products skip BLAS.
    /// </summary>
    internal const long BlasMinWork = 1;

    /// <summary>
    /// Largest m*n*k for which OpenBLAS runs a call single-threaded on the caller's thread
    /// (65536 * GEMM_MULTITHREAD_THRESHOLD(4)); batched calls this small may be issued from
    /// several threads at once without oversubscribing BLAS's own pool.
    /// </summary>
    internal const long BlasSingleThreadWork = 1L << 18;

    /// <summary>
    /// Human-readable name of the backend large problems use, e.g.
    /// <c>"openblas: libopenblas.so.0"</c> or <c>"managed (Vector512 12x32)"</c>. Forcing
    /// <c>FLOWGUIDE_BLAS=managed</c> in the environment before first use selects the managed kernel.
    /// </summary>
    public static string Backend =>
        !Blas.IsAvailable ? ManagedGemm.Describe()
        : PreferManagedForLarge ? $"{Blas.Vendor}: {Blas.LibraryName} below {ManagedCrossoverWork} m*n*k, {ManagedGemm.Describe()} above"
        : $"{Blas.Vendor}: {Blas.LibraryName}";

    /// <summary>
    /// Problems with m*n*k above this go to the managed kernel when <see cref="PreferManagedForLarge"/>. Measured on the
    /// 2-core AVX-512 reference machine (docs/benchmarks.md): Debian's OpenBLAS wins up to 64^3 (call overhead), the
    /// 14x32 Vector512 kernel from 96^3 up (1.4-1.7x OpenBLAS at 256..2048).
    /// </summary>
    internal const long ManagedCrossoverWork = 80L * 80 * 80;

    /// <summary>
    /// Whether large products use the managed kernel even though BLAS is loaded: on by default when Vector512 is
    /// hardware-accelerated (measured faster than Debian's OpenBLAS there); <c>FLOWGUIDE_BLAS=blas</c> forces BLAS for all
    /// sizes, <c>FLOWGUIDE_BLAS=managed</c> never loads BLAS.
    /// </summary>
    internal static readonly bool PreferManagedForLarge =
        ManagedGemm.Default == MicroKernel.V512 &&
        !string.Equals(Environment.GetEnvironmentVariable(Blas.BackendEnvVar), "blas", StringComparison.OrdinalIgnoreCase);

    /// <summary>Native BLAS only, whatever the size (for benchmarks and tests); falls back to managed when BLAS is absent.</summary>
    internal static void SgemmBlas(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k > 0 && Blas.IsAvailable) Blas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else RunManaged(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, allowParallel: true);
    }

    /// <summary>
    /// Row-major C[m,n] = alpha * op(A) @ op(B) + beta * C. op(A) is A stored m x k (row stride
    /// <paramref name="lda"/> &gt;= k) or, when <paramref name="transA"/>, A stored k x m
    /// (lda &gt;= m) and used transposed; likewise op(B) is k x n (ldb &gt;= n) or B stored
    /// n x k (ldb &gt;= k) when <paramref name="transB"/>. Leading dimensions larger than the
    /// minimum address sub-matrices. When <paramref name="beta"/> is 0, C is overwritten and its
    /// previous contents (even NaN) are ignored. m, n or k may be 0.
    /// </summary>
    /// <exception cref="ArgumentException">A dimension is negative, a leading dimension is too small, or a span is too short for the described matrix.</exception>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0)
        {
            return;
        }
        long work = (long)m * n * k;
        if (work >= BlasMinWork && k > 0 && Blas.IsAvailable && !(PreferManagedForLarge && work > ManagedCrossoverWork))
        {
            Blas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        RunManaged(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, allowParallel: true);
    }

    /// <summary>The managed blocked kernel, bypassing BLAS (multi-threaded per <see cref="Parallelism.NumThreads"/>).</summary>
    internal static void SgemmManaged(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        RunManaged(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, allowParallel: true);
    }

    /// <summary>The managed blocked kernel with an explicit micro-kernel family, for testing the non-default SIMD widths.</summary>
    internal static void SgemmManaged(MicroKernel kind, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            ManagedGemm.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, true, kind);
        }
    }

    /// <summary>Reference triple loop with double accumulation; the slow, obviously-correct twin used by tests.</summary>
    internal static void SgemmScalar(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += (double)av * bv;
                }
                int ci = i * ldc + j;
                double prev = beta == 0f ? 0.0 : (double)beta * c[ci];
                c[ci] = (float)(alpha * sum + prev);
            }
        }
    }

    /// <summary>
    /// Batched SGEMM: for each i in [0, batch), C_i = alpha * op(A_i) @ op(B_i) + beta * C_i, where
    /// X_i starts at offset i * strideX of its span. A stride of 0 broadcasts one matrix to every
    /// batch entry (not allowed for C unless batch &lt;= 1, since entries would race). Leading
    /// dimensions are the minimal ones (k or m for A, n or k for B, n for C). Many small matrices
    /// are spread across threads, each multiplied single-threaded; few large ones run one after
    /// another with a multi-threaded multiply each.
    /// </summary>
    /// <exception cref="ArgumentException">Negative sizes or strides, overlapping C entries, or spans too short for the batch.</exception>
    public static void SgemmBatched(int batch, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, long strideA, ReadOnlySpan<float> b, long strideB, float beta, Span<float> c, long strideC)
    {
        if (batch < 0 || m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentException($"SgemmBatched: batch, m, n and k must be non-negative (batch={batch}, m={m}, n={n}, k={k}).");
        }
        if (strideA < 0 || strideB < 0 || strideC < 0)
        {
            throw new ArgumentException($"SgemmBatched: strides must be non-negative (strideA={strideA}, strideB={strideB}, strideC={strideC}).");
        }
        int lda = transA ? m : k, ldb = transB ? k : n, ldc = n;
        long sizeA = (long)m * k, sizeB = (long)k * n, sizeC = (long)m * n;
        if (batch > 1 && sizeC > 0 && strideC < sizeC)
        {
            throw new ArgumentException($"SgemmBatched: strideC={strideC} must be at least m*n={sizeC} so batch entries of C do not overlap.");
        }
        CheckBatchSpan("A", a.Length, batch, strideA, sizeA);
        CheckBatchSpan("B", b.Length, batch, strideB, sizeB);
        CheckBatchSpan("C", c.Length, batch, strideC, sizeC);
        if (batch == 0 || m == 0 || n == 0)
        {
            return;
        }

        long work = (long)m * n * k;
        bool spreadBatch = batch > 1 && Parallelism.NumThreads > 1 && work < (1L << 21);
        if (!spreadBatch)
        {
            for (int i = 0; i < batch; i++)
            {
                Sgemm(transA, transB, m, n, k, alpha,
                    a.Slice((int)(i * strideA), (int)sizeA), Math.Max(1, lda),
                    b.Slice((int)(i * strideB), (int)sizeB), Math.Max(1, ldb), beta,
                    c.Slice((int)(i * strideC), (int)sizeC), Math.Max(1, ldc));
            }
            return;
        }

        // Measured (2 cores): for m*n*k <= 64^3 parallel single-threaded OpenBLAS calls beat the
        // managed kernel (e.g. 16^3: 30 vs 14 GFLOP/s); above that the managed kernel run
        // single-threaded per matrix wins (96^3: 219 vs 187) and needs no global BLAS thread change.
        bool useBlas = work > 0 && work <= BlasSingleThreadWork && Blas.IsAvailable;
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            int minChunk = (int)Math.Max(1, (1L << 16) / Math.Max(1, work));
            Parallelism.For(batch, minChunk, (start, end) =>
            {
                for (int i = start; i < end; i++)
                {
                    if (useBlas)
                    {
                        Blas.Sgemm(transA, transB, m, n, k, alpha,
                            new ReadOnlySpan<float>((float*)ia + i * strideA, (int)sizeA), Math.Max(1, lda),
                            new ReadOnlySpan<float>((float*)ib + i * strideB, (int)sizeB), Math.Max(1, ldb), beta,
                            new Span<float>((float*)ic + i * strideC, (int)sizeC), Math.Max(1, ldc));
                        continue;
                    }
                    ManagedGemm.Run(transA, transB, m, n, k, alpha,
                        (float*)ia + i * strideA, Math.Max(1, lda),
                        (float*)ib + i * strideB, Math.Max(1, ldb), beta,
                        (float*)ic + i * strideC, Math.Max(1, ldc), false, ManagedGemm.Default);
                }
            });
        }
    }

    private static void CheckBatchSpan(string name, int length, int batch, long stride, long size)
    {
        if (batch == 0 || size == 0)
        {
            return;
        }
        long needed = (batch - 1) * stride + size;
        if (length < needed)
        {
            throw new ArgumentException(
                $"SgemmBatched: {name} needs at least {needed} elements for batch={batch}, stride={stride}, matrix size={size}, but has {length}.");
        }
    }

    private static void RunManaged(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, bool allowParallel)
    {
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            ManagedGemm.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, allowParallel, ManagedGemm.Default);
        }
    }

    /// <summary>Checks dimensions, leading dimensions and span lengths; messages name Sgemm and the offending quantity.</summary>
    internal static void Validate(bool transA, bool transB, int m, int n, int k,
        int lenA, int lda, int lenB, int ldb, int lenC, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentException($"Sgemm: dimensions must be non-negative (m={m}, n={n}, k={k}).");
        }
        // Stored shapes: A is (m x k) or (k x m) when transposed; B is (k x n) or (n x k).
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        CheckMatrix("A", transA, aRows, aCols, lenA, lda, m, n, k);
        CheckMatrix("B", transB, bRows, bCols, lenB, ldb, m, n, k);
        CheckMatrix("C", false, m, n, lenC, ldc, m, n, k);
    }

    private static void CheckMatrix(string name, bool trans, int rows, int cols, int length, int ld, int m, int n, int k)
    {
        string shape = $"{name}{(trans ? " (transposed)" : "")} stored {rows}x{cols}";
        if (ld < Math.Max(1, cols))
        {
            throw new ArgumentException(
                $"Sgemm: ld{name.ToLowerInvariant()}={ld} is too small for {shape} (m={m}, n={n}, k={k}); expected at least {Math.Max(1, cols)}.");
        }
        if (rows == 0 || cols == 0)
        {
            return;
        }
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
        {
            throw new ArgumentException(
                $"Sgemm: {name} has {length} elements but {shape} with ld{name.ToLowerInvariant()}={ld} (m={m}, n={n}, k={k}) needs at least {needed}.");
        }
    }
}
