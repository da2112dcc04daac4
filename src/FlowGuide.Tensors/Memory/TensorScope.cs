namespace FlowGuide.Tensors;

/// <summary>
/// Collects every tensor buffer allocated on this thread while the scope is open and returns them to the
/// <see cref="BufferPool"/> when it is disposed, except those passed to <see cref="Keep"/>, which move to the enclosing
/// scope (or become unscoped). One scope per sampling step keeps the loop's memory flat and the GC quiet.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly List<Storage> _owned = new();
    private readonly TensorScope? _parent;
    private bool _disposed;

    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    internal static TensorScope? Current => _current;

    /// <summary>
    /// Until the returned handle is disposed, tensors allocated on this thread belong to no scope (so they outlive every
    /// open one): for loading weights that must last, such as a model read lazily in the middle of a scoped run.
    /// </summary>
    public static IDisposable Suspend() => new Suspension();

    private sealed class Suspension : IDisposable
    {
        private readonly TensorScope? _saved = _current;
        private bool _done;

        public Suspension() => _current = null;

        public void Dispose()
        {
            if (_done) return;
            if (_current is not null)
                throw new InvalidOperationException("TensorScope.Suspend: a scope opened inside the suspension is still open.");
            _done = true;
            _current = _saved;
        }
    }

    internal void Register(Storage s)
    {
        s.Scope = this;
        _owned.Add(s);
    }

    /// <summary>Keeps <paramref name="tensors"/> alive past this scope; returns the first for chaining.</summary>
    public Tensor Keep(params Tensor[] tensors)
    {
        foreach (var t in tensors)
        {
            var s = t.Storage;
            if (s.Scope != this) continue;
            s.Scope = _parent;
            _parent?._owned.Add(s);
        }
        return tensors.Length > 0 ? tensors[0] : throw new ArgumentException("TensorScope.Keep: no tensors given.");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this)
            throw new InvalidOperationException("TensorScope: scopes must be disposed in the reverse order they were opened, on the thread that opened them.");
        _current = _parent;
        foreach (var s in _owned)
            if (s.Scope == this) s.Release();
        _owned.Clear();
    }
}
