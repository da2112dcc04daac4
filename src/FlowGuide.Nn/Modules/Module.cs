using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>
/// Base class for layers and models. Children and parameters are registered under the names a PyTorch/diffusers
/// checkpoint uses, so <see cref="NamedParameters"/> yields dotted keys like <c>blocks.3.attn1.to_q.weight</c> and
/// loading a checkpoint is a dictionary match, not a translation table.
/// </summary>
public abstract class Module
{
    private readonly List<KeyValuePair<string, Module>> _children = new();
    private readonly List<KeyValuePair<string, Tensor>> _parameters = new();
    private readonly List<KeyValuePair<string, Tensor>> _buffers = new();

    /// <summary>True in training mode (dropout active); see <see cref="Train"/> and <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a child module under <paramref name="name"/> and returns it.</summary>
    protected T Child<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add(new(name, module));
        return module;
    }

    /// <summary>Registers a trainable parameter (RequiresGrad on) and returns it.</summary>
    protected Tensor Parameter(string name, Tensor value)
    {
        CheckName(name);
        value.RequiresGrad = true;
        value.Name = name;
        _parameters.Add(new(name, value));
        return value;
    }

    /// <summary>Registers a persistent non-trainable tensor (saved in the state dictionary, never given gradients).</summary>
    protected Tensor Buffer(string name, Tensor value)
    {
        CheckName(name);
        _buffers.Add(new(name, value));
        return value;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: invalid member name '{name}' (non-empty, no dots).");
        if (_children.Any(c => c.Key == name) || _parameters.Any(p => p.Key == name) || _buffers.Any(b => b.Key == name))
            throw new ArgumentException($"{GetType().Name}: member '{name}' is registered twice.");
    }

    public IEnumerable<KeyValuePair<string, Module>> NamedChildren() => _children;

    /// <summary>All parameters with their dotted names, depth-first in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedParameters(string prefix = "")
    {
        foreach (var p in _parameters) yield return new(prefix + p.Key, p.Value);
        foreach (var c in _children)
            foreach (var p in c.Value.NamedParameters(prefix + c.Key + "."))
                yield return p;
    }

    public IEnumerable<KeyValuePair<string, Tensor>> NamedBuffers(string prefix = "")
    {
        foreach (var b in _buffers) yield return new(prefix + b.Key, b.Value);
        foreach (var c in _children)
            foreach (var b in c.Value.NamedBuffers(prefix + c.Key + "."))
                yield return b;
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Value);

    /// <summary>Parameters whose gradients are on (not frozen).</summary>
    public IEnumerable<Tensor> TrainableParameters() => Parameters().Where(p => p.RequiresGrad);

    /// <summary>Total number of parameter elements (frozen ones included).</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Numel);

    /// <summary>Turns gradients off for every parameter (weights frozen for guidance).</summary>
    public void Freeze() { foreach (var p in Parameters()) p.RequiresGrad = false; }

    public void Unfreeze() { foreach (var p in Parameters()) p.RequiresGrad = true; }

    public void Train(bool on = true)
    {
        Training = on;
        foreach (var c in _children) c.Value.Train(on);
    }

    public void Eval() => Train(false);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad() { foreach (var p in Parameters()) p.Grad = null; }

    /// <summary>Parameters and buffers by dotted name (the tensors themselves, not copies).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var p in NamedParameters()) d[p.Key] = p.Value;
        foreach (var b in NamedBuffers()) d[b.Key] = b.Value;
        return d;
    }

    /// <summary>
    /// Copies tensors into this module's parameters and buffers by name. Strict mode throws one
    /// <see cref="StateDictMismatchException"/> listing every missing key, unexpected key and shape mismatch;
    /// non-strict mode loads what matches and returns the same report.
    /// </summary>
    public LoadReport LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true) =>
        LoadStateDict(state.Keys, k => state[k].Shape, (k, dst) =>
        {
            var src = state[k];
            src.Span.CopyTo(dst);
        }, strict);

    /// <summary>
    /// Loads from any source that can report a shape and fill a destination span by key (a lazily read safetensors file
    /// converts each tensor straight into the parameter's buffer, so no second copy of the checkpoint is held).
    /// </summary>
    public LoadReport LoadStateDict(IEnumerable<string> keys, Func<string, Shape> shapeOf, Action<string, Span<float>> fill, bool strict = true)
    {
        var own = StateDict();
        var keySet = keys.ToHashSet();
        var missing = own.Keys.Where(k => !keySet.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = keySet.Where(k => !own.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var mismatched = new List<string>();
        foreach (var k in keySet.Where(own.ContainsKey).OrderBy(k => k, StringComparer.Ordinal))
        {
            var s = shapeOf(k);
            if (s != own[k].Shape) mismatched.Add($"{k}: checkpoint {s}, model {own[k].Shape}");
        }
        var report = new LoadReport(missing, unexpected, mismatched);
        if (strict && !report.IsExact) throw new StateDictMismatchException(GetType().Name, report);
        foreach (var k in keySet)
            if (own.TryGetValue(k, out var dst) && dst.Shape == shapeOf(k))
                fill(k, dst.Span);
        return report;
    }
}

/// <summary>What a state-dictionary load found: keys the model has but the source lacks, the reverse, and shape conflicts.</summary>
public sealed record LoadReport(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> ShapeMismatches)
{
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;

    public override string ToString()
    {
        var parts = new List<string>();
        if (Missing.Count > 0) parts.Add($"{Missing.Count} missing key(s): {Summarise(Missing)}");
        if (Unexpected.Count > 0) parts.Add($"{Unexpected.Count} unexpected key(s): {Summarise(Unexpected)}");
        if (ShapeMismatches.Count > 0) parts.Add($"{ShapeMismatches.Count} shape mismatch(es): {Summarise(ShapeMismatches)}");
        return parts.Count == 0 ? "all keys matched" : string.Join("; ", parts);
    }

    private static string Summarise(IReadOnlyList<string> items) =>
        string.Join(", ", items.Take(20)) + (items.Count > 20 ? $", ... ({items.Count - 20} more)" : "");
}

/// <summary>A strict load found keys or shapes that do not match; the message lists them all.</summary>
public sealed class StateDictMismatchException(string model, LoadReport report)
    : Exception($"Loading weights into {model}: {report}.")
{
    public LoadReport Report { get; } = report;
}
