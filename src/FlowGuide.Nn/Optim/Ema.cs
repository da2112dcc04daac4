using FlowGuide.Tensors;

namespace FlowGuide.Nn.Optim;

/// <summary>
/// Exponential moving average of a module's parameters: shadow = decay*shadow + (1 - decay)*param after each step.
/// The shadow weights are what a trained model usually ships.
/// </summary>
public sealed class Ema
{
    private readonly Dictionary<string, float[]> _shadow = new();
    private readonly Module _model;

    public Ema(Module model, float decay = 0.999f)
    {
        if (decay is < 0 or > 1) throw new ArgumentException($"Ema: decay must be in [0, 1], got {decay}.");
        _model = model;
        Decay = decay;
        foreach (var (k, p) in model.NamedParameters()) _shadow[k] = p.ToArray();
    }

    public float Decay { get; }

    /// <summary>
    /// shadow = d·shadow + (1 - d)·param. With <paramref name="step"/> (1-based optimiser step) the decay warms up as
    /// d = min(Decay, (1 + step) / (10 + step)), so the average forgets the random initial weights within the first few
    /// hundred steps instead of carrying e.g. 0.999^1000 = 37% of them after 1000 steps.
    /// </summary>
    public void Update(long? step = null)
    {
        float d = step is { } n ? (float)Math.Min(Decay, (1.0 + n) / (10.0 + n)) : Decay;
        foreach (var (k, p) in _model.NamedParameters())
        {
            if (!p.RequiresGrad) continue; // a frozen parameter's average is itself (d s + (1 - d) s can be off by an ulp)
            var s = _shadow[k];
            var v = p.Span;
            for (int i = 0; i < s.Length; i++) s[i] = d * s[i] + (1 - d) * v[i];
        }
    }

    /// <summary>The averaged weights by parameter name (copies).</summary>
    public Dictionary<string, Tensor> StateDict() =>
        _model.NamedParameters().ToDictionary(p => p.Key, p => Tensor.FromArray(_shadow[p.Key], p.Value.Shape.ToArray()));

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        foreach (var k in _shadow.Keys.ToList())
        {
            if (!state.TryGetValue(k, out var t)) throw new ArgumentException($"Ema: state lacks '{k}'.");
            if (t.Numel != _shadow[k].Length) throw new ArgumentException($"Ema: '{k}' has {t.Numel} elements, expected {_shadow[k].Length}.");
            _shadow[k] = t.ToArray();
        }
    }

    /// <summary>Copies the averaged weights into <paramref name="target"/> (same architecture).</summary>
    public void CopyTo(Module target) => target.LoadStateDict(StateDict());
}
