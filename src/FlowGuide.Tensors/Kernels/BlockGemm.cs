using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Single-threaded register-tiled C (+)= alpha * op(A) B for the small tiles of fused kernels (attention blocks of
/// 64 x 64 x 64). It exists beside <see cref="Gemm.Sgemm"/> because fused kernels call it from inside their own
/// per-thread loops: a general GEMM spreads work over threads above a size threshold and packs its operands, both of
/// which cost more than they save at tile size. B is always row-major [k, n] with leading dimension ldb (callers
/// transpose B-side operands once up front); A may be transposed, which only changes the stride a scalar is read at.
/// Tiles of 4 rows x 64 columns keep 16 accumulators in AVX-512 registers.
/// </summary>
internal static unsafe class BlockGemm
{
    /// <summary>
    /// C[i, j] = (accumulate ? C[i, j] : 0) + alpha * sum_p a(i, p) B[p, j] for i &lt; m, j &lt; n, p &lt; k, where
    /// a(i, p) = A[p * lda + i] when <paramref name="transA"/> and A[i * lda + p] otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* a, int lda, bool transA, float* b, int ldb, float* c, int ldc, int m, int n, int k, float alpha, bool accumulate)
    {
        long rowStep = transA ? 1 : lda, colStep = transA ? lda : 1;
        if (!Vector512.IsHardwareAccelerated)
        {
            Scalar(a, rowStep, colStep, b, ldb, c, ldc, 0, m, 0, n, k, alpha, accumulate);
            return;
        }
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

    /// <summary>Plain triple-loop twin of <see cref="Run"/> for the parity tests.</summary>
    public static void RunScalar(float* a, int lda, bool transA, float* b, int ldb, float* c, int ldc, int m, int n, int k, float alpha, bool accumulate) =>
        Scalar(a, transA ? 1 : lda, transA ? lda : 1, b, ldb, c, ldc, 0, m, 0, n, k, alpha, accumulate);
}
