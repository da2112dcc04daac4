namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Process-wide CPU parallelism settings shared by all kernels, plus a contiguous-chunk
/// parallel loop helper (ggml-style row split) used by compute kernels.
/// </summary>
public static class Parallelism
{
    /// <summary>Environment variable that overrides the default thread count.</summary>
    public const string ThreadsEnvVar = "FLOWGUIDE_THREADS";

    private static int _numThreads = ReadDefaultThreads();

    /// <summary>
    /// Maximum number of worker threads a single kernel call may use. Defaults to the
    /// <c>FLOWGUIDE_THREADS</c> environment variable when it holds a positive integer,
    /// otherwise <see cref="Environment.ProcessorCount"/>. Setting it also forwards the value
    /// to the native BLAS (via <c>openblas_set_num_threads</c>) when one is loaded, so
    /// managed and native kernels agree on the thread budget.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int NumThreads
    {
        get => Volatile.Read(ref _numThreads);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(NumThreads));
            Volatile.Write(ref _numThreads, value);
            Blas.OnThreadCountChanged(value);
        }
    }

    private static int ReadDefaultThreads()
    {
        string? env = Environment.GetEnvironmentVariable(ThreadsEnvVar);
        if (!string.IsNullOrWhiteSpace(env)
            && int.TryParse(env.Trim(), System.Globalization.NumberStyles.Integer,
                System.Globalization.CultureInfo.InvariantCulture, out int n)
            && n >= 1)
        {
            return n;
        }
        return Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>
    /// Number of chunks <see cref="For(int, int, Action{int, int})"/> would use for <paramref name="count"/> items with at
    /// least <paramref name="minChunk"/> items per chunk (never more than <see cref="NumThreads"/>).
    /// </summary>
    public static int ChunkCount(int count, int minChunk)
    {
        if (count <= 0)
        {
            return 0;
        }
        int perChunk = Math.Max(1, minChunk);
        int byWork = Math.Max(1, count / perChunk);
        return Math.Min(NumThreads, byWork);
    }

    /// <summary>
    /// Splits <c>[0, count)</c> into at most <see cref="NumThreads"/> contiguous, near-equal
    /// chunks of at least <paramref name="minChunk"/> items each and invokes
    /// <paramref name="body"/>(start, end) once per chunk (end exclusive). With a single chunk
    /// the body runs inline on the calling thread; otherwise chunks run via
    /// <see cref="Parallel.For(int, int, Action{int})"/> and this call returns when all finish.
    /// Exceptions thrown by the body propagate (wrapped in <see cref="AggregateException"/>
    /// when run in parallel).
    /// </summary>
    public static void For(int count, int minChunk, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        For(count, minChunk, (start, end, _) => body(start, end));
    }

    /// <summary>
    /// Same split as <see cref="For(int, int, Action{int, int})"/>, but the body also receives
    /// the chunk index in <c>[0, ChunkCount(count, minChunk))</c>, which is stable for a given
    /// (count, minChunk, NumThreads) and lets callers index per-chunk scratch or partial results
    /// (e.g. for a deterministic reduction) without locking.
    /// </summary>
    public static void For(int count, int minChunk, Action<int, int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        int chunks = ChunkCount(count, minChunk);
        if (chunks == 0)
        {
            return;
        }
        if (chunks == 1)
        {
            body(0, count, 0);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, i =>
        {
            (int start, int end) = ChunkBounds(count, chunks, i);
            if (end > start)
            {
                body(start, end, i);
            }
        });
    }

    /// <summary>Bounds [start, end) of chunk <paramref name="index"/> when <paramref name="count"/> items are split into <paramref name="chunks"/> near-equal contiguous parts.</summary>
    public static (int Start, int End) ChunkBounds(int count, int chunks, int index) =>
        ((int)((long)count * index / chunks), (int)((long)count * (index + 1) / chunks));
}
