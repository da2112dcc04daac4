using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

/// <summary>Register-tile width family used by <see cref="ManagedGemm"/>.</summary>
internal enum MicroKernel
{
    /// <summary>Vector512 tile (NR = 32); needs AVX-512 to be fast.</summary>
    V512,
    /// <summary>Vector256 tile 6x16; AVX2/FMA class hardware.</summary>
    V256,
    /// <summary>Vector128 tile 6x8; SSE/NEON class hardware (and the universal fallback).</summary>
    V128,
}

/// <summary>
/// GotoBLAS/BLIS-style managed SGEMM. Loop nest (outer to inner): NC column blocks of B,
/// KC depth blocks (B block packed into NR-wide micro-panels that live in L3/L2), MC row
/// blocks of A (packed into MR-tall micro-panels, alpha folded in, living in L2), then the
/// NR x MR grid of register-tiled micro-kernel calls. Transposes are absorbed by the packing
/// routines, so every (transA, transB) combination runs the same inner kernel. Packing buffers
/// are per-thread, pinned, 64-byte aligned and reused across calls.
/// </summary>
internal static unsafe partial class ManagedGemm
{
    /// <summary>Below this many multiply-adds (m*n*k) a call runs on one thread.</summary>
    internal const long ParallelThreshold = 1L << 18;

    /// <summary>Minimum multiply-adds handed to each worker thread.</summary>
    private const long MinWorkPerThread = 1L << 17;

    /// <summary>The best kernel family the current hardware accelerates.</summary>
    internal static readonly MicroKernel Default =
        Vector512.IsHardwareAccelerated ? MicroKernel.V512
        : Vector256.IsHardwareAccelerated ? MicroKernel.V256
        : MicroKernel.V128;

    /// <summary>Rows of the Vector512 register tile (must match the generated Kernel512).</summary>
    internal const int Mr512 = 14;

    private readonly struct Config
    {
        public readonly int Mr, Nr, Mc, Kc, Nc;
        public Config(int mr, int nr, int mc, int kc, int nc)
        {
            Mr = mr; Nr = nr; Mc = mc / mr * mr; Kc = kc; Nc = nc / nr * nr;
        }
    }

    private static Config GetConfig(MicroKernel kind) => kind switch
    {
        MicroKernel.V512 => new Config(Mr512, 32, 196, 384, 3072),
        MicroKernel.V256 => new Config(6, 16, 144, 256, 3072),
        _ => new Config(6, 8, 96, 256, 2048),
    };

    /// <summary>Describes the active managed kernel, e.g. "managed (Vector512 12x32)".</summary>
    internal static string Describe()
    {
        Config cfg = GetConfig(Default);
        string width = Default switch { MicroKernel.V512 => "Vector512", MicroKernel.V256 => "Vector256", _ => "Vector128" };
        return $"managed ({width} {cfg.Mr}x{cfg.Nr})";
    }

    /// <summary>
    /// Computes C = alpha * op(A) @ op(B) + beta * C on raw pointers (row-major, leading
    /// dimensions already validated). When <paramref name="allowParallel"/> is set and the
    /// problem is large enough the output is split into contiguous tile-aligned row or column
    /// ranges, one per worker, each running the serial blocked algorithm independently.
    /// </summary>
    internal static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool allowParallel, MicroKernel kind)
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }
        if (k <= 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        Config cfg = GetConfig(kind);
        long work = (long)m * n * k;
        int threads = allowParallel && work >= ParallelThreshold
            ? (int)Math.Min(Parallelism.NumThreads, Math.Max(1, work / MinWorkPerThread))
            : 1;
        if (threads <= 1)
        {
            Serial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, cfg, kind);
            return;
        }

        // Split the larger output dimension (in whole tiles) so each worker packs its own panels.
        bool splitColumns = (n + cfg.Nr - 1) / cfg.Nr >= (m + cfg.Mr - 1) / cfg.Mr;
        int unit = splitColumns ? cfg.Nr : cfg.Mr;
        int extent = splitColumns ? n : m;
        int tiles = (extent + unit - 1) / unit;
        threads = Math.Min(threads, tiles);
        int minChunk = Math.Max(1, tiles / threads);
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Parallelism.For(tiles, minChunk, (t0, t1) =>
        {
            int lo = t0 * unit;
            int hi = Math.Min(extent, t1 * unit);
            float* ca = (float*)pa, cb = (float*)pb, cc = (float*)pc;
            if (splitColumns)
            {
                float* bOff = transB ? cb + (long)lo * ldb : cb + lo;
                Serial(transA, transB, m, hi - lo, k, alpha, ca, lda, bOff, ldb, beta, cc + lo, ldc, cfg, kind);
            }
            else
            {
                float* aOff = transA ? ca + lo : ca + (long)lo * lda;
                Serial(transA, transB, hi - lo, n, k, alpha, aOff, lda, cb, ldb, beta, cc + (long)lo * ldc, ldc, cfg, kind);
            }
        });
    }

    /// <summary>C = beta * C, with beta == 0 writing exact zeros (NaN/Inf in C are discarded).</summary>
    internal static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f)
        {
            return;
        }
        for (int i = 0; i < m; i++)
        {
            Span<float> row = new(c + (long)i * ldc, n);
            if (beta == 0f)
            {
                row.Clear();
            }
            else
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Serial(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, Config cfg, MicroKernel kind)
    {
        int mr = cfg.Mr, nr = cfg.Nr;
        Workspace ws = Workspace.Get(cfg.Mc * cfg.Kc, cfg.Kc * Math.Min(cfg.Nc, RoundUp(n, nr)), mr * nr);
        float* packA = ws.A, packB = ws.B, tile = ws.Tile;

        for (int jc = 0; jc < n; jc += cfg.Nc)
        {
            int nc = Math.Min(cfg.Nc, n - jc);
            for (int pc = 0; pc < k; pc += cfg.Kc)
            {
                int kc = Math.Min(cfg.Kc, k - pc);
                float betaBlock = pc == 0 ? beta : 1f;
                PackB(transB, b, ldb, pc, jc, kc, nc, nr, packB);
                for (int ic = 0; ic < m; ic += cfg.Mc)
                {
                    int mc = Math.Min(cfg.Mc, m - ic);
                    PackA(transA, a, lda, ic, pc, mc, kc, mr, alpha, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nrEff = Math.Min(nr, nc - jr);
                        float* bPanel = packB + (long)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int mrEff = Math.Min(mr, mc - ir);
                            float* aPanel = packA + (long)ir * kc;
                            float* cTile = c + (long)(ic + ir) * ldc + jc + jr;
                            if (mrEff == mr && nrEff == nr)
                            {
                                Micro(kind, kc, aPanel, bPanel, cTile, ldc, betaBlock);
                            }
                            else
                            {
                                Micro(kind, kc, aPanel, bPanel, tile, nr, 0f);
                                MergeEdge(tile, nr, cTile, ldc, mrEff, nrEff, betaBlock);
                            }
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Micro(MicroKernel kind, int kc, float* a, float* b, float* c, nint ldc, float beta)
    {
        switch (kind)
        {
            case MicroKernel.V512: Kernel512(kc, a, b, c, ldc, beta); break;
            case MicroKernel.V256: Kernel256(kc, a, b, c, ldc, beta); break;
            default: Kernel128(kc, a, b, c, ldc, beta); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeEdge(float* tile, int ldt, float* c, int ldc, int rows, int cols, float beta)
    {
        for (int i = 0; i < rows; i++)
        {
            float* src = tile + i * ldt;
            float* dst = c + (long)i * ldc;
            if (beta == 0f)
            {
                for (int j = 0; j < cols; j++) dst[j] = src[j];
            }
            else if (beta == 1f)
            {
                for (int j = 0; j < cols; j++) dst[j] += src[j];
            }
            else
            {
                for (int j = 0; j < cols; j++) dst[j] = src[j] + beta * dst[j];
            }
        }
    }

    /// <summary>
    /// Packs rows [ic, ic+mc) x depth [pc, pc+kc) of op(A), scaled by alpha, into MR-row
    /// micro-panels: panel r holds element (i, p) at r*MR*kc + p*MR + i; missing rows are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(bool transA, float* a, int lda, int ic, int pc, int mc, int kc, int mr, float alpha, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (long)ir * kc;
            if (!transA)
            {
                // op(A)[i, p] = a[i*lda + p]: read rows contiguously, scatter with stride MR.
                for (int i = 0; i < rows; i++)
                {
                    float* src = a + (long)(ic + ir + i) * lda + pc;
                    float* d = panel + i;
                    for (int p = 0; p < kc; p++)
                    {
                        d[p * mr] = alpha * src[p];
                    }
                }
            }
            else
            {
                // op(A)[i, p] = a[p*lda + i]: each depth step is a contiguous run of rows.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(pc + p) * lda + ic + ir;
                    float* d = panel + p * mr;
                    for (int i = 0; i < rows; i++)
                    {
                        d[i] = alpha * src[i];
                    }
                }
            }
            if (rows < mr)
            {
                for (int p = 0; p < kc; p++)
                {
                    new Span<float>(panel + p * mr + rows, mr - rows).Clear();
                }
            }
        }
    }

    /// <summary>
    /// Packs depth [pc, pc+kc) x columns [jc, jc+nc) of op(B) into NR-column micro-panels:
    /// panel s holds element (p, j) at s*NR*kc + p*NR + j; missing columns are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(bool transB, float* b, int ldb, int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (long)jr * kc;
            if (!transB)
            {
                // op(B)[p, j] = b[p*ldb + j]: straight row-segment copies.
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)(pc + p) * ldb + jc + jr;
                    float* d = panel + p * nr;
                    if (cols == nr)
                    {
                        CopyRow(src, d, nr);
                    }
                    else
                    {
                        for (int j = 0; j < cols; j++) d[j] = src[j];
                        for (int j = cols; j < nr; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)[p, j] = b[j*ldb + p]: read each source row contiguously, scatter with stride NR.
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (long)(jc + jr + j) * ldb + pc;
                    float* d = panel + j;
                    for (int p = 0; p < kc; p++)
                    {
                        d[p * nr] = src[p];
                    }
                }
                if (cols < nr)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        new Span<float>(panel + p * nr + cols, nr - cols).Clear();
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(float* src, float* dst, int count)
    {
        if (count == 32 && Vector512.IsHardwareAccelerated)
        {
            Vector512.Store(Vector512.Load(src), dst);
            Vector512.Store(Vector512.Load(src + 16), dst + 16);
        }
        else
        {
            Buffer.MemoryCopy(src, dst, count * sizeof(float), count * sizeof(float));
        }
    }

    private static int RoundUp(int x, int unit) => (x + unit - 1) / unit * unit;

    /// <summary>Per-thread pinned, 64-byte aligned packing buffers; grown on demand, never shrunk.</summary>
    private sealed class Workspace
    {
        [ThreadStatic]
        private static Workspace? _current;

        private float[] _arrA = Array.Empty<float>();
        private float[] _arrB = Array.Empty<float>();
        private float[] _arrT = Array.Empty<float>();
        public float* A;
        public float* B;
        public float* Tile;

        public static Workspace Get(int sizeA, int sizeB, int sizeTile)
        {
            Workspace ws = _current ??= new Workspace();
            Ensure(ref ws._arrA, ref ws.A, sizeA);
            Ensure(ref ws._arrB, ref ws.B, sizeB);
            Ensure(ref ws._arrT, ref ws.Tile, sizeTile);
            return ws;
        }

        private static void Ensure(ref float[] arr, ref float* aligned, int size)
        {
            if (aligned != null && arr.Length >= size + 16)
            {
                return;
            }
            // Pinned-object-heap arrays never move, so caching the aligned pointer is safe.
            arr = GC.AllocateUninitializedArray<float>(size + 16, pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref arr[0]);
            aligned = (float*)((p + 63) & ~(nint)63);
        }
    }
}
