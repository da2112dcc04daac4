namespace FlowGuide.Tensors;

/// <summary>
/// The buffer behind one or more tensors (a tensor and its reshaped views share a storage). Once released back to the
/// pool, any access throws instead of silently reading a buffer that another tensor now owns.
/// </summary>
internal sealed class Storage
{
    private static long _nextId;
    private float[]? _array;
    internal TensorScope? Scope;

    public Storage(float[] array, bool pooled)
    {
        _array = array;
        Pooled = pooled;
        Id = Interlocked.Increment(ref _nextId);
    }

    /// <summary>Creation order: a storage with an id above <see cref="LastId"/> read at some moment was created after it.</summary>
    public long Id { get; }

    /// <summary>The id of the most recently created storage.</summary>
    public static long LastId => Interlocked.Read(ref _nextId);

    public bool Pooled { get; }

    public bool IsReleased => _array is null;

    public float[] Array => _array ?? throw new ObjectDisposedException(
        "Tensor", "This tensor's buffer was released (its TensorScope ended or it was disposed). Keep it with TensorScope.Keep or clone it before the scope ends.");

    public void Release()
    {
        var a = Interlocked.Exchange(ref _array, null);
        if (a is null) return;
        GC.SuppressFinalize(this);
        BufferPool.Return(a, Pooled);
    }

    /// <summary>A storage nobody released explicitly still gives its buffer back (and its bytes to the live count) when collected.</summary>
    ~Storage()
    {
        var a = _array;
        if (a is null) return;
        _array = null;
        BufferPool.Return(a, Pooled);
    }
}
