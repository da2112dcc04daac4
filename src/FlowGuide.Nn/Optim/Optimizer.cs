using FlowGuide.Tensors;

namespace FlowGuide.Nn.Optim;

/// <summary>
/// Base class for optimizers over named parameters. State (moments, momentum buffers, step count) is exposed as named
/// tensors so a training checkpoint saves it beside the weights and a resumed run continues bit-for-bit.
/// </summary>
public abstract class Optimizer
{
    protected Optimizer(IEnumerable<KeyValuePair<string, Tensor>> parameters, float learningRate)
    {
        Params = parameters.Where(p => p.Value.RequiresGrad).ToList();
        if (Params.Count == 0) throw new ArgumentException($"{GetType().Name}: no trainable parameters given.");
        if (Params.Select(p => p.Key).Distinct().Count() != Params.Count) throw new ArgumentException($"{GetType().Name}: duplicate parameter names.");
        if (!(learningRate >= 0)) throw new ArgumentException($"{GetType().Name}: learning rate must be >= 0, got {learningRate}.");
        LearningRate = learningRate;
    }

    /// <summary>The parameters being optimised, by checkpoint name.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Params { get; }

    /// <summary>Current learning rate; a schedule sets it before each <see cref="Step"/>.</summary>
    public float LearningRate { get; set; }

    /// <summary>Number of completed steps.</summary>
    public long StepCount { get; protected set; }

    /// <summary>Applies one update from each parameter's <see cref="Tensor.Grad"/> (parameters without a gradient are skipped).</summary>
    public void Step()
    {
        StepCount++;
        using var _ = GradMode.NoGrad();
        foreach (var (name, p) in Params)
        {
            if (p.Grad is not { } g) continue;
            if (g.Shape != p.Shape) throw new InvalidOperationException($"{GetType().Name}: gradient of '{name}' has shape {g.Shape}, parameter {p.Shape}.");
            Update(name, p.Span, g.Span);
        }
    }

    public void ZeroGrad()
    {
        foreach (var (_, p) in Params) p.Grad = null;
    }

    /// <summary>Updates one parameter in place from its gradient.</summary>
    protected abstract void Update(string name, Span<float> param, ReadOnlySpan<float> grad);

    /// <summary>Per-parameter state buffer named "<paramref name="name"/>.<paramref name="slot"/>", created as zeros.</summary>
    protected float[] Slot(string name, string slot, int length)
    {
        var key = name + "." + slot;
        if (!_state.TryGetValue(key, out var s)) _state[key] = s = new float[length];
        return s;
    }

    private readonly Dictionary<string, float[]> _state = new();

    /// <summary>Optimizer state as named tensors plus scalars (step, learning rate), for checkpoints.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (k, v) in _state) d["state." + k] = Tensor.FromArray(v, v.Length);
        d["step"] = Tensor.FromArray(new[] { (double)StepCount }, 1);
        d["lr"] = Tensor.FromArray(new[] { LearningRate }, 1);
        return d;
    }

    /// <summary>Restores state saved by <see cref="StateDict"/>; the parameter names must match this optimizer's.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("step", out var step) || !state.TryGetValue("lr", out var lr))
            throw new ArgumentException($"{GetType().Name}: optimizer state lacks 'step' or 'lr'.");
        var names = Params.Select(p => p.Key).ToHashSet();
        _state.Clear();
        foreach (var (k, v) in state)
        {
            if (!k.StartsWith("state.", StringComparison.Ordinal)) continue;
            var key = k["state.".Length..];
            var pname = key[..key.LastIndexOf('.')];
            if (!names.Contains(pname)) throw new ArgumentException($"{GetType().Name}: optimizer state names unknown parameter '{pname}'.");
            _state[key] = v.ToArray();
        }
        StepCount = (long)Math.Round(step.Span[0]);
        LearningRate = lr.Span[0];
    }
}
