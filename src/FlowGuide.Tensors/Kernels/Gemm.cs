namespace FlowGuide.Tensors.Kernels;

// Placeholder until the BLAS/managed GEMM lands: plain loops.
public static class Gemm
{
    public static string Backend => "scalar";

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                    s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = beta == 0 ? alpha * s : alpha * s + beta * c[i * ldc + j];
            }
    }

    internal static void SgemmManaged(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public static void SgemmBatched(int batch, bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, long strideA, ReadOnlySpan<float> b, long strideB, float beta, Span<float> c, long strideC)
    {
        int lda = transA ? m : k, ldb = transB ? k : n;
        for (int i = 0; i < batch; i++)
            Sgemm(transA, transB, m, n, k, alpha, a[(int)(i * strideA)..], lda, b[(int)(i * strideB)..], ldb, beta, c[(int)(i * strideC)..], n);
    }
}
