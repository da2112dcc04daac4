using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

// Register-tiled micro-kernels for ManagedGemm. Each kernel multiplies a packed A micro-panel
// (MR rows interleaved per k step) by a packed B micro-panel (NR columns contiguous per k step)
// entirely in registers and then merges the tile into C once.
internal static unsafe partial class ManagedGemm
{
    /// <summary>14x32 register tile using Vector512: C[14,32] (op)= A-panel[14,kc] @ B-panel[kc,32]; see <see cref="StoreRow512"/> for the beta rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(int kc, float* a, float* b, float* c, nint ldc, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        Vector512<float> c8_0 = default; Vector512<float> c8_1 = default;
        Vector512<float> c9_0 = default; Vector512<float> c9_1 = default;
        Vector512<float> c10_0 = default; Vector512<float> c10_1 = default;
        Vector512<float> c11_0 = default; Vector512<float> c11_1 = default;
        Vector512<float> c12_0 = default; Vector512<float> c12_1 = default;
        Vector512<float> c13_0 = default; Vector512<float> c13_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> a0 = Vector512.Create(a[0]); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
            Vector512<float> a1 = Vector512.Create(a[1]); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
            Vector512<float> a2 = Vector512.Create(a[2]); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
            Vector512<float> a3 = Vector512.Create(a[3]); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
            Vector512<float> a4 = Vector512.Create(a[4]); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
            Vector512<float> a5 = Vector512.Create(a[5]); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
            Vector512<float> a6 = Vector512.Create(a[6]); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1);
            Vector512<float> a7 = Vector512.Create(a[7]); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1);
            Vector512<float> a8 = Vector512.Create(a[8]); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1);
            Vector512<float> a9 = Vector512.Create(a[9]); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1);
            Vector512<float> a10 = Vector512.Create(a[10]); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1);
            Vector512<float> a11 = Vector512.Create(a[11]); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1);
            Vector512<float> a12 = Vector512.Create(a[12]); c12_0 = Vector512.FusedMultiplyAdd(a12, b0, c12_0); c12_1 = Vector512.FusedMultiplyAdd(a12, b1, c12_1);
            Vector512<float> a13 = Vector512.Create(a[13]); c13_0 = Vector512.FusedMultiplyAdd(a13, b0, c13_0); c13_1 = Vector512.FusedMultiplyAdd(a13, b1, c13_1);
            a += 14;
            b += 32;
        }
        StoreRow512(c + 0 * ldc, beta, c0_0, c0_1);
        StoreRow512(c + 1 * ldc, beta, c1_0, c1_1);
        StoreRow512(c + 2 * ldc, beta, c2_0, c2_1);
        StoreRow512(c + 3 * ldc, beta, c3_0, c3_1);
        StoreRow512(c + 4 * ldc, beta, c4_0, c4_1);
        StoreRow512(c + 5 * ldc, beta, c5_0, c5_1);
        StoreRow512(c + 6 * ldc, beta, c6_0, c6_1);
        StoreRow512(c + 7 * ldc, beta, c7_0, c7_1);
        StoreRow512(c + 8 * ldc, beta, c8_0, c8_1);
        StoreRow512(c + 9 * ldc, beta, c9_0, c9_1);
        StoreRow512(c + 10 * ldc, beta, c10_0, c10_1);
        StoreRow512(c + 11 * ldc, beta, c11_0, c11_1);
        StoreRow512(c + 12 * ldc, beta, c12_0, c12_1);
        StoreRow512(c + 13 * ldc, beta, c13_0, c13_1);
    }

    /// <summary>6x16 register tile using Vector256: C[6,16] (op)= A-panel[6,kc] @ B-panel[kc,16]; see <see cref="StoreRow256"/> for the beta rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256(int kc, float* a, float* b, float* c, nint ldc, float beta)
    {
        Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
        Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
        Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
        Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
        Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
        Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b + 0);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> a0 = Vector256.Create(a[0]); c0_0 = Vector256.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector256.FusedMultiplyAdd(a0, b1, c0_1);
            Vector256<float> a1 = Vector256.Create(a[1]); c1_0 = Vector256.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector256.FusedMultiplyAdd(a1, b1, c1_1);
            Vector256<float> a2 = Vector256.Create(a[2]); c2_0 = Vector256.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector256.FusedMultiplyAdd(a2, b1, c2_1);
            Vector256<float> a3 = Vector256.Create(a[3]); c3_0 = Vector256.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector256.FusedMultiplyAdd(a3, b1, c3_1);
            Vector256<float> a4 = Vector256.Create(a[4]); c4_0 = Vector256.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector256.FusedMultiplyAdd(a4, b1, c4_1);
            Vector256<float> a5 = Vector256.Create(a[5]); c5_0 = Vector256.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector256.FusedMultiplyAdd(a5, b1, c5_1);
            a += 6;
            b += 16;
        }
        StoreRow256(c + 0 * ldc, beta, c0_0, c0_1);
        StoreRow256(c + 1 * ldc, beta, c1_0, c1_1);
        StoreRow256(c + 2 * ldc, beta, c2_0, c2_1);
        StoreRow256(c + 3 * ldc, beta, c3_0, c3_1);
        StoreRow256(c + 4 * ldc, beta, c4_0, c4_1);
        StoreRow256(c + 5 * ldc, beta, c5_0, c5_1);
    }

    /// <summary>6x8 register tile using Vector128: C[6,8] (op)= A-panel[6,kc] @ B-panel[kc,8]; see <see cref="StoreRow128"/> for the beta rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel128(int kc, float* a, float* b, float* c, nint ldc, float beta)
    {
        Vector128<float> c0_0 = default; Vector128<float> c0_1 = default;
        Vector128<float> c1_0 = default; Vector128<float> c1_1 = default;
        Vector128<float> c2_0 = default; Vector128<float> c2_1 = default;
        Vector128<float> c3_0 = default; Vector128<float> c3_1 = default;
        Vector128<float> c4_0 = default; Vector128<float> c4_1 = default;
        Vector128<float> c5_0 = default; Vector128<float> c5_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector128<float> b0 = Vector128.Load(b + 0);
            Vector128<float> b1 = Vector128.Load(b + 4);
            Vector128<float> a0 = Vector128.Create(a[0]); c0_0 = Vector128.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector128.FusedMultiplyAdd(a0, b1, c0_1);
            Vector128<float> a1 = Vector128.Create(a[1]); c1_0 = Vector128.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector128.FusedMultiplyAdd(a1, b1, c1_1);
            Vector128<float> a2 = Vector128.Create(a[2]); c2_0 = Vector128.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector128.FusedMultiplyAdd(a2, b1, c2_1);
            Vector128<float> a3 = Vector128.Create(a[3]); c3_0 = Vector128.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector128.FusedMultiplyAdd(a3, b1, c3_1);
            Vector128<float> a4 = Vector128.Create(a[4]); c4_0 = Vector128.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector128.FusedMultiplyAdd(a4, b1, c4_1);
            Vector128<float> a5 = Vector128.Create(a[5]); c5_0 = Vector128.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector128.FusedMultiplyAdd(a5, b1, c5_1);
            a += 6;
            b += 8;
        }
        StoreRow128(c + 0 * ldc, beta, c0_0, c0_1);
        StoreRow128(c + 1 * ldc, beta, c1_0, c1_1);
        StoreRow128(c + 2 * ldc, beta, c2_0, c2_1);
        StoreRow128(c + 3 * ldc, beta, c3_0, c3_1);
        StoreRow128(c + 4 * ldc, beta, c4_0, c4_1);
        StoreRow128(c + 5 * ldc, beta, c5_0, c5_1);
    }

    /// <summary>Merges one accumulated row into C: beta == 0 overwrites (NaN-safe), beta == 1 adds, otherwise C = acc + beta * C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow512(float* c, float beta, Vector512<float> x0, Vector512<float> x1)
    {
        if (beta == 0f)
        {
            Vector512.Store(x0, c);
            Vector512.Store(x1, c + 16);
        }
        else if (beta == 1f)
        {
            Vector512.Store(Vector512.Load(c) + x0, c);
            Vector512.Store(Vector512.Load(c + 16) + x1, c + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(c), vb, x0), c);
            Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(c + 16), vb, x1), c + 16);
        }
    }

    /// <summary>Vector256 twin of <see cref="StoreRow512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow256(float* c, float beta, Vector256<float> x0, Vector256<float> x1)
    {
        if (beta == 0f)
        {
            Vector256.Store(x0, c);
            Vector256.Store(x1, c + 8);
        }
        else if (beta == 1f)
        {
            Vector256.Store(Vector256.Load(c) + x0, c);
            Vector256.Store(Vector256.Load(c + 8) + x1, c + 8);
        }
        else
        {
            Vector256<float> vb = Vector256.Create(beta);
            Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(c), vb, x0), c);
            Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(c + 8), vb, x1), c + 8);
        }
    }

    /// <summary>Vector128 twin of <see cref="StoreRow512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow128(float* c, float beta, Vector128<float> x0, Vector128<float> x1)
    {
        if (beta == 0f)
        {
            Vector128.Store(x0, c);
            Vector128.Store(x1, c + 4);
        }
        else if (beta == 1f)
        {
            Vector128.Store(Vector128.Load(c) + x0, c);
            Vector128.Store(Vector128.Load(c + 4) + x1, c + 4);
        }
        else
        {
            Vector128<float> vb = Vector128.Create(beta);
            Vector128.Store(Vector128.FusedMultiplyAdd(Vector128.Load(c), vb, x0), c);
            Vector128.Store(Vector128.FusedMultiplyAdd(Vector128.Load(c + 4), vb, x1), c + 4);
        }
    }
}
