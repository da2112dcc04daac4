namespace FlowGuide.Tensors;

/// <summary>
/// Per-thread switch for tape recording. Inference runs under <see cref="NoGrad"/> and builds no graph and holds
/// no intermediate buffers; guidance turns recording back on around the one call it differentiates.
/// </summary>
public static class GradMode
{
    [ThreadStatic] private static bool _disabled;

    public static bool IsEnabled => !_disabled;

    /// <summary>Disables recording until the returned scope is disposed.</summary>
    public static Restore NoGrad() => Set(false);

    /// <summary>Enables recording until the returned scope is disposed (inside a <see cref="NoGrad"/> region).</summary>
    public static Restore EnableGrad() => Set(true);

    private static Restore Set(bool enabled)
    {
        var r = new Restore(!_disabled);
        _disabled = !enabled;
        return r;
    }

    /// <summary>Restores the previous mode on dispose.</summary>
    public readonly struct Restore : IDisposable
    {
        private readonly bool _wasEnabled;
        internal Restore(bool wasEnabled) => _wasEnabled = wasEnabled;
        public void Dispose() => _disabled = !_wasEnabled;
    }
}
