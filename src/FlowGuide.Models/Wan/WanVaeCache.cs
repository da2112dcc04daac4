using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>
/// The state the VAE carries from one time chunk to the next (diffusers' <c>feat_cache</c>): one slot per cached conv,
/// visited in the same order every chunk. A slot holds the last (up to two) input frames of its conv, so each chunk's
/// causal time padding is the real history instead of zeros and a chunked run equals a whole-sequence causal run.
/// Slot tensors are ordinary graph tensors, so gradients flow back through the cache into earlier chunks.
/// </summary>
/// <remarks>
/// With <see cref="OwnsTensors"/> (inference: no graph is recorded) every stored tensor is a private copy that is disposed
/// as soon as its slot is overwritten, so stale history goes back to the buffer pool at once instead of waiting for the GC.
/// </remarks>
internal sealed class WanVaeCache(bool ownsTensors)
{
    private readonly List<Tensor?> _frames = new();
    private readonly List<bool> _seen = new();
    private int _next;

    /// <summary>
    /// True when the cache copies what it stores and disposes what it drops (never while recording a graph). May be turned
    /// off between chunks: an untaped history followed by a recorded range (<see cref="WanVae.DecodeLatentRange(Tensor, int, int, bool)"/>).
    /// </summary>
    public bool OwnsTensors { get; set; } = ownsTensors;

    /// <summary>Starts a chunk: slots are visited again from the first.</summary>
    public void BeginChunk() => _next = 0;

    /// <summary>The next slot index in visiting order (allocated on the first chunk).</summary>
    public int NextSlot()
    {
        if (_next == _frames.Count) { _frames.Add(null); _seen.Add(false); }
        return _next++;
    }

    public Tensor? Get(int slot) => _frames[slot];

    /// <summary>Whether the slot has been visited by an earlier chunk (the first chunk skips temporal resampling).</summary>
    public bool Seen(int slot) => _seen[slot];

    public void Set(int slot, Tensor? frames)
    {
        if (OwnsTensors)
        {
            _frames[slot]?.Dispose();
            frames = frames?.Clone();
        }
        _frames[slot] = frames;
        _seen[slot] = true;
    }

    /// <summary>Disposes the owned history (after the last chunk).</summary>
    public void Clear()
    {
        if (OwnsTensors) foreach (var t in _frames) t?.Dispose();
        _frames.Clear();
        _seen.Clear();
    }

    /// <summary>Every tensor held by the cache (to keep alive past a per-chunk memory scope).</summary>
    public IEnumerable<Tensor> Tensors => _frames.Where(t => t is not null)!;

    /// <summary>
    /// Runs a causal <paramref name="conv"/> on <paramref name="x"/> [B, C, T, H, W]: without a cache over the whole
    /// sequence (zero time padding), with one using and then advancing this conv's slot.
    /// </summary>
    public static Tensor CausalConv(Conv3d conv, Tensor x, WanVaeCache? cache)
    {
        if (cache is null) return conv.Forward(x);
        int slot = cache.NextSlot();
        var prev = cache.Get(slot);
        var y = conv.Forward(x, prev);
        cache.Set(slot, Tail(prev, x, 2));
        return y;
    }

    /// <summary>The last <paramref name="keep"/> frames of the stream "previous tail, then x" (fewer at its start).</summary>
    public static Tensor Tail(Tensor? prev, Tensor x, int keep)
    {
        int t = x.Size(2);
        if (t >= keep) return x.Narrow(2, t - keep, keep);
        if (prev is null) return x;
        int fromPrev = Math.Min(keep - t, prev.Size(2));
        return Ops.Concat(new[] { prev.Narrow(2, prev.Size(2) - fromPrev, fromPrev), x }, 2);
    }
}
