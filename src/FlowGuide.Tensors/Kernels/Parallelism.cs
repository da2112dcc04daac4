namespace FlowGuide.Tensors.Kernels;

// Placeholder: replaced by the GEMM work.
public static class Parallelism
{
    public static int NumThreads { get; set; } = Environment.ProcessorCount;

    public static void For(int count, int minChunk, Action<int, int> body)
    {
        int chunks = Math.Max(1, Math.Min(NumThreads, count / Math.Max(1, minChunk)));
        if (chunks <= 1) { if (count > 0) body(0, count); return; }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = NumThreads }, c =>
        {
            long s = (long)count * c / chunks, e = (long)count * (c + 1) / chunks;
            body((int)s, (int)e);
        });
    }
}
