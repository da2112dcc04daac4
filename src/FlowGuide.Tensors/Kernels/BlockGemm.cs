using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Single-threaded register-tiled C (+)= alpha * op(A) B for the small tiles of fused kernels (attention blocks of
/// 64 x 64 x 64). It exists beside <see cref="Gemm.Sgemm"/> because fused kernels call it from inside their own
/// per-thread loops: a general GEMM spreads work over threads above a size threshold and packs its operands, both of
/// which cost more than they save at tile size. B is always row-major [k, n] with leading dimension ldb (callers
/// transpose B-side operands once up front); A may be transposed, which only changes the stride a scalar is read at.
/// The widest accelerated vector is chosen at startup (<see cref="ManagedGemm.Default"/>): with AVX-512, tiles of
/// 4 rows x 64 columns keep 16 accumulators in registers; with Vector256 (AVX2) or Vector128 (SSE, NEON) one
/// width-generic body runs 6 rows x 2 vectors (12 accumulators, so it fits the 16 registers of AVX2/SSE).
/// </summary>
internal static unsafe class BlockGemm
{
    /// <summary>
    /// C[i, j] = (accumulate ? C[i, j] : 0) + alpha * sum_p a(i, p) B[p, j] for i &lt; m, j &lt; n, p &lt; k, where
    /// a(i, p) = A[p * lda + i] when <paramref name="transA"/> and A[i * lda + p] otherwise.
    /// </summary>
    public static void Run(float* a, int lda, bool transA, float* b, int ldb, float* c, int ldc, int m, int n, int k, float alpha, bool accumulate)
    {
        if (!Vector128.IsHardwareAccelerated)
            RunScalar(a, lda, transA, b, ldb, c, ldc, m, n, k, alpha, accumulate);
        else
            Run(ManagedGemm.Default, a, lda, transA, b, ldb, c, ldc, m, n, k, alpha, accumulate);
    }

    /// <summary><see cref="Run(float*, int, bool, float*, int, float*, int, int, int, int, float, bool)"/> with an explicit vector width, so tests can exercise every path.</summary>
    public static void Run(MicroKernel kind, float* a, int lda, bool transA, float* b, int ldb, float* c, int ldc, int m, int n, int k, float alpha, bool accumulate)
    {
        long rowStep = transA ? 1 : lda, colStep = transA ? lda : 1;
        switch (kind)
        {
            case MicroKernel.V512: Run512(a, rowStep, colStep, b, ldb, c, ldc, m, n, k, alpha, accumulate); break;
            case MicroKernel.V256: RunNarrow<Lanes256, Vector256<float>>(a, rowStep, colStep, b, ldb, c, ldc, m, n, k, alpha, accumulate); break;
            default: RunNarrow<Lanes128, Vector128<float>>(a, rowStep, colStep, b, ldb, c, ldc, m, n, k, alpha, accumulate); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run512(float* a, long rowStep, long colStep, float* b, int ldb, float* c, int ldc, int m, int n, int k, float alpha, bool accumulate)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            float* ai = a + i * rowStep;
            float* ci = c + (long)i * ldc;
            int j = 0;
            for (; j + 64 <= n; j += 64) Tile4x64(ai, rowStep, colStep, b + j, ldb, ci + j, ldc, k, alpha, accumulate);
            for (; j + 16 <= n; j += 16) Tile4x16(ai, rowStep, colStep, b + j, ldb, ci + j, ldc, k, alpha, accumulate);
            if (j < n) Scalar(a, rowStep, colStep, b, ldb, c, ldc, i, i + 4, j, n, k, alpha, accumulate);
        }
        for (; i < m; i++)
        {
            float* ai = a + i * rowStep;
            float* ci = c + (long)i * ldc;
            int j = 0;
            for (; j + 16 <= n; j += 16) Tile1x16(ai, colStep, b + j, ldb, ci + j, k, alpha, accumulate);
            if (j < n) Scalar(a, rowStep, colStep, b, ldb, c, ldc, i, i + 1, j, n, k, alpha, accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x64(float* a, long rs, long cs, float* b, int ldb, float* c, int ldc, int k, float alpha, bool acc)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        float* a0 = a, a1 = a + rs, a2 = a + 2 * rs, a3 = a + 3 * rs;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var b2 = Vector512.Load(b + 32);
            var b3 = Vector512.Load(b + 48);
            b += ldb;
            var x = Vector512.Create(*a0);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            c02 = Vector512.FusedMultiplyAdd(x, b2, c02); c03 = Vector512.FusedMultiplyAdd(x, b3, c03);
            x = Vector512.Create(*a1);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            c12 = Vector512.FusedMultiplyAdd(x, b2, c12); c13 = Vector512.FusedMultiplyAdd(x, b3, c13);
            x = Vector512.Create(*a2);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            c22 = Vector512.FusedMultiplyAdd(x, b2, c22); c23 = Vector512.FusedMultiplyAdd(x, b3, c23);
            x = Vector512.Create(*a3);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            c32 = Vector512.FusedMultiplyAdd(x, b2, c32); c33 = Vector512.FusedMultiplyAdd(x, b3, c33);
            a0 += cs; a1 += cs; a2 += cs; a3 += cs;
        }
        var al = Vector512.Create(alpha);
        Store(c, al, acc, c00, c01, c02, c03);
        Store(c + ldc, al, acc, c10, c11, c12, c13);
        Store(c + 2L * ldc, al, acc, c20, c21, c22, c23);
        Store(c + 3L * ldc, al, acc, c30, c31, c32, c33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> al, bool acc, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        if (acc)
        {
            Vector512.FusedMultiplyAdd(al, v0, Vector512.Load(c)).Store(c);
            Vector512.FusedMultiplyAdd(al, v1, Vector512.Load(c + 16)).Store(c + 16);
            Vector512.FusedMultiplyAdd(al, v2, Vector512.Load(c + 32)).Store(c + 32);
            Vector512.FusedMultiplyAdd(al, v3, Vector512.Load(c + 48)).Store(c + 48);
        }
        else
        {
            (al * v0).Store(c);
            (al * v1).Store(c + 16);
            (al * v2).Store(c + 32);
            (al * v3).Store(c + 48);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x16(float* a, long rs, long cs, float* b, int ldb, float* c, int ldc, int k, float alpha, bool acc)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        float* a0 = a, a1 = a + rs, a2 = a + 2 * rs, a3 = a + 3 * rs;
        for (int p = 0; p < k; p++)
        {
            var bv = Vector512.Load(b);
            b += ldb;
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(*a0), bv, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(*a1), bv, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(*a2), bv, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(*a3), bv, c3);
            a0 += cs; a1 += cs; a2 += cs; a3 += cs;
        }
        var al = Vector512.Create(alpha);
        Store1(c, al, acc, c0);
        Store1(c + ldc, al, acc, c1);
        Store1(c + 2L * ldc, al, acc, c2);
        Store1(c + 3L * ldc, al, acc, c3);
    }

    private static void Tile1x16(float* a, long cs, float* b, int ldb, float* c, int k, float alpha, bool acc)
    {
        Vector512<float> c0 = default;
        for (int p = 0; p < k; p++)
        {
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(*a), Vector512.Load(b), c0);
            a += cs;
            b += ldb;
        }
        Store1(c, Vector512.Create(alpha), acc, c0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store1(float* c, Vector512<float> al, bool acc, Vector512<float> v)
    {
        if (acc) Vector512.FusedMultiplyAdd(al, v, Vector512.Load(c)).Store(c);
        else (al * v).Store(c);
    }

    // ------------------------------------------------------------------ Vector256 / Vector128 (one generic body)

    /// <summary>The few vector operations the narrow tiles use; the JIT specialises each tile per struct implementation.</summary>
    private interface ILanes<TV> where TV : struct
    {
        static abstract int Count { get; }
        static abstract TV Load(float* p);
        static abstract void Store(TV v, float* p);
        static abstract TV Splat(float x);
        /// <summary>a * b + c, fused where the hardware has FMA (MultiplyAddEstimate: no slow software fallback on SSE-only parts).</summary>
        static abstract TV MulAdd(TV a, TV b, TV c);
        static abstract TV Mul(TV a, TV b);
    }

    private readonly struct Lanes256 : ILanes<Vector256<float>>
    {
        public static int Count => 8;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float x) => Vector256.Create(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    }

    private readonly struct Lanes128 : ILanes<Vector128<float>>
    {
        public static int Count => 4;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> v, float* p) => v.Store(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Splat(float x) => Vector128.Create(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;
    }

    /// <summary>
    /// Rows in blocks of 6 (then one block of 4, then single rows); within a block, columns in steps of two vectors,
    /// then one vector (row by row), then scalars.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunNarrow<T, TV>(float* a, long rs, long cs, float* b, int ldb, float* c, int ldc, int m, int n, int k, float alpha, bool acc)
        where T : struct, ILanes<TV> where TV : struct
    {
        int w = T.Count, w2 = 2 * T.Count;
        int i = 0;
        while (i < m)
        {
            int rows = m - i >= 6 ? 6 : m - i >= 4 ? 4 : 1;
            float* ai = a + i * rs;
            float* ci = c + (long)i * ldc;
            int j = 0;
            for (; j + w2 <= n; j += w2)
            {
                if (rows == 6) Tile6x2<T, TV>(ai, rs, cs, b + j, ldb, ci + j, ldc, k, alpha, acc);
                else if (rows == 4) Tile4x2<T, TV>(ai, rs, cs, b + j, ldb, ci + j, ldc, k, alpha, acc);
                else Tile1x2<T, TV>(ai, cs, b + j, ldb, ci + j, k, alpha, acc);
            }
            if (j + w <= n)
            {
                for (int r = 0; r < rows; r++) Tile1x1<T, TV>(ai + r * rs, cs, b + j, ldb, ci + (long)r * ldc + j, k, alpha, acc);
                j += w;
            }
            if (j < n) Scalar(a, rs, cs, b, ldb, c, ldc, i, i + rows, j, n, k, alpha, acc);
            i += rows;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x2<T, TV>(float* a, long rs, long cs, float* b, int ldb, float* c, int ldc, int k, float alpha, bool acc)
        where T : struct, ILanes<TV> where TV : struct
    {
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + rs, a2 = a + 2 * rs, a3 = a + 3 * rs, a4 = a + 4 * rs, a5 = a + 5 * rs;
        int w = T.Count;
        for (int p = 0; p < k; p++)
        {
            TV b0 = T.Load(b), b1 = T.Load(b + w);
            b += ldb;
            TV x = T.Splat(*a0); c00 = T.MulAdd(x, b0, c00); c01 = T.MulAdd(x, b1, c01);
            x = T.Splat(*a1); c10 = T.MulAdd(x, b0, c10); c11 = T.MulAdd(x, b1, c11);
            x = T.Splat(*a2); c20 = T.MulAdd(x, b0, c20); c21 = T.MulAdd(x, b1, c21);
            x = T.Splat(*a3); c30 = T.MulAdd(x, b0, c30); c31 = T.MulAdd(x, b1, c31);
            x = T.Splat(*a4); c40 = T.MulAdd(x, b0, c40); c41 = T.MulAdd(x, b1, c41);
            x = T.Splat(*a5); c50 = T.MulAdd(x, b0, c50); c51 = T.MulAdd(x, b1, c51);
            a0 += cs; a1 += cs; a2 += cs; a3 += cs; a4 += cs; a5 += cs;
        }
        TV al = T.Splat(alpha);
        Store2<T, TV>(c, w, al, acc, c00, c01);
        Store2<T, TV>(c + ldc, w, al, acc, c10, c11);
        Store2<T, TV>(c + 2L * ldc, w, al, acc, c20, c21);
        Store2<T, TV>(c + 3L * ldc, w, al, acc, c30, c31);
        Store2<T, TV>(c + 4L * ldc, w, al, acc, c40, c41);
        Store2<T, TV>(c + 5L * ldc, w, al, acc, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2<T, TV>(float* a, long rs, long cs, float* b, int ldb, float* c, int ldc, int k, float alpha, bool acc)
        where T : struct, ILanes<TV> where TV : struct
    {
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        float* a0 = a, a1 = a + rs, a2 = a + 2 * rs, a3 = a + 3 * rs;
        int w = T.Count;
        for (int p = 0; p < k; p++)
        {
            TV b0 = T.Load(b), b1 = T.Load(b + w);
            b += ldb;
            TV x = T.Splat(*a0); c00 = T.MulAdd(x, b0, c00); c01 = T.MulAdd(x, b1, c01);
            x = T.Splat(*a1); c10 = T.MulAdd(x, b0, c10); c11 = T.MulAdd(x, b1, c11);
            x = T.Splat(*a2); c20 = T.MulAdd(x, b0, c20); c21 = T.MulAdd(x, b1, c21);
            x = T.Splat(*a3); c30 = T.MulAdd(x, b0, c30); c31 = T.MulAdd(x, b1, c31);
            a0 += cs; a1 += cs; a2 += cs; a3 += cs;
        }
        TV al = T.Splat(alpha);
        Store2<T, TV>(c, w, al, acc, c00, c01);
        Store2<T, TV>(c + ldc, w, al, acc, c10, c11);
        Store2<T, TV>(c + 2L * ldc, w, al, acc, c20, c21);
        Store2<T, TV>(c + 3L * ldc, w, al, acc, c30, c31);
    }

    private static void Tile1x2<T, TV>(float* a, long cs, float* b, int ldb, float* c, int k, float alpha, bool acc)
        where T : struct, ILanes<TV> where TV : struct
    {
        TV c0 = default, c1 = default;
        int w = T.Count;
        for (int p = 0; p < k; p++)
        {
            TV x = T.Splat(*a);
            c0 = T.MulAdd(x, T.Load(b), c0);
            c1 = T.MulAdd(x, T.Load(b + w), c1);
            a += cs;
            b += ldb;
        }
        Store2<T, TV>(c, w, T.Splat(alpha), acc, c0, c1);
    }

    private static void Tile1x1<T, TV>(float* a, long cs, float* b, int ldb, float* c, int k, float alpha, bool acc)
        where T : struct, ILanes<TV> where TV : struct
    {
        TV c0 = default;
        for (int p = 0; p < k; p++)
        {
            c0 = T.MulAdd(T.Splat(*a), T.Load(b), c0);
            a += cs;
            b += ldb;
        }
        TV al = T.Splat(alpha);
        T.Store(acc ? T.MulAdd(al, c0, T.Load(c)) : T.Mul(al, c0), c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2<T, TV>(float* c, int w, TV al, bool acc, TV v0, TV v1) where T : struct, ILanes<TV> where TV : struct
    {
        if (acc)
        {
            T.Store(T.MulAdd(al, v0, T.Load(c)), c);
            T.Store(T.MulAdd(al, v1, T.Load(c + w)), c + w);
        }
        else
        {
            T.Store(T.Mul(al, v0), c);
            T.Store(T.Mul(al, v1), c + w);
        }
    }

    private static void Scalar(float* a, long rs, long cs, float* b, int ldb, float* c, int ldc, int i0, int i1, int j0, int j1, int k, float alpha, bool acc)
    {
        for (int i = i0; i < i1; i++)
            for (int j = j0; j < j1; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += a[i * rs + p * cs] * b[(long)p * ldb + j];
                float* cij = c + (long)i * ldc + j;
                *cij = acc ? *cij + alpha * s : alpha * s;
            }
    }

    /// <summary>Plain triple-loop twin of <see cref="Run(float*, int, bool, float*, int, float*, int, int, int, int, float, bool)"/> for the parity tests.</summary>
    public static void RunScalar(float* a, int lda, bool transA, float* b, int ldb, float* c, int ldc, int m, int n, int k, float alpha, bool accumulate) =>
        Scalar(a, transA ? 1 : lda, transA ? lda : 1, b, ldb, c, ldc, 0, m, 0, n, k, alpha, accumulate);
}
