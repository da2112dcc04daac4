using System.Collections.Concurrent;

namespace FlowGuide.Tensors;

/// <summary>
/// A pool of float buffers keyed by exact length. Sampling and training loops allocate the same sizes every step, so
/// exact-size buckets give near-perfect reuse without the up-to-2x waste of power-of-two rounding. The pool holds at
/// most <see cref="MaxPooledBytes"/>; past that, returned buffers are left to the GC.
/// </summary>
public static class BufferPool
{
    private static readonly ConcurrentDictionary<int, ConcurrentBag<float[]>> Buckets = new();
    private static long _pooledBytes;
    private static long _liveBytes;
    private static long _peakLiveBytes;

    /// <summary>Upper bound on bytes kept in the pool (default 2 GiB; FLOWGUIDE_POOL_MB overrides).</summary>
    public static long MaxPooledBytes { get; set; } =
        long.TryParse(Environment.GetEnvironmentVariable("FLOWGUIDE_POOL_MB"), out var mb) ? mb << 20 : 2L << 30;

    /// <summary>Bytes currently held by live tensor storages (pooled or not).</summary>
    public static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>High-water mark of <see cref="LiveBytes"/> since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakLiveBytes => Interlocked.Read(ref _peakLiveBytes);

    public static long PooledBytes => Interlocked.Read(ref _pooledBytes);

    public static void ResetPeak() => Interlocked.Exchange(ref _peakLiveBytes, Interlocked.Read(ref _liveBytes));

    /// <summary>Rents a buffer of exactly <paramref name="length"/> floats. Contents are unspecified unless <paramref name="clear"/>.</summary>
    internal static float[] Rent(int length, bool clear)
    {
        float[]? arr = null;
        if (length > 0 && Buckets.TryGetValue(length, out var bag) && bag.TryTake(out arr))
        {
            Interlocked.Add(ref _pooledBytes, -4L * length);
            if (clear) Array.Clear(arr);
        }
        arr ??= length == 0 ? Array.Empty<float>() : (clear ? new float[length] : GC.AllocateUninitializedArray<float>(length));
        TrackLive(4L * length);
        return arr;
    }

    /// <summary>Counts a buffer that was not rented (wrapped user data) as live.</summary>
    internal static void TrackLive(long bytes)
    {
        long live = Interlocked.Add(ref _liveBytes, bytes);
        long peak;
        while (live > (peak = Interlocked.Read(ref _peakLiveBytes)))
            if (Interlocked.CompareExchange(ref _peakLiveBytes, live, peak) == peak) break;
    }

    internal static void Return(float[] arr, bool reusable)
    {
        Interlocked.Add(ref _liveBytes, -4L * arr.Length);
        if (!reusable || arr.Length == 0) return;
        if (Interlocked.Read(ref _pooledBytes) + 4L * arr.Length > MaxPooledBytes) return;
        Buckets.GetOrAdd(arr.Length, _ => new ConcurrentBag<float[]>()).Add(arr);
        Interlocked.Add(ref _pooledBytes, 4L * arr.Length);
    }

    /// <summary>Drops every pooled buffer (for example before measuring memory).</summary>
    public static void Clear()
    {
        Buckets.Clear();
        Interlocked.Exchange(ref _pooledBytes, 0);
    }
}
