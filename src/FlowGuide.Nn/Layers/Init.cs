using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>
/// The initialisers PyTorch layers use by default, drawn from FlowGuide's deterministic <see cref="Rng"/> so a model built
/// from a seed has the same weights on every machine (the values differ from PyTorch's, whose generator is different).
/// A null generator gives zeros without drawing anything: layers built that way are placeholders for weights about to be
/// loaded from a checkpoint (skipping ~1 s of random numbers per 100M parameters).
/// </summary>
public static class Init
{
    /// <summary>U(-bound, bound).</summary>
    public static Tensor Uniform(Rng? rng, float bound, params int[] shape)
    {
        if (rng is null) return Tensor.Zeros(shape);
        var t = Tensor.Empty(shape);
        rng.FillUniform(t.Span);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (2f * s[i] - 1f) * bound;
        return t;
    }

    /// <summary>N(0, std²).</summary>
    public static Tensor Normal(Rng? rng, float std, params int[] shape)
    {
        if (rng is null) return Tensor.Zeros(shape);
        var t = Tensor.Empty(shape);
        rng.FillNormal(t.Span);
        if (std != 1f)
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] *= std;
        }
        return t;
    }

    /// <summary>
    /// PyTorch's default for Linear and Conv weights: kaiming_uniform(a = sqrt 5), which is U(±1/sqrt(fan_in)).
    /// fan_in = in_features, or in_channels/groups × kernel volume for convolutions.
    /// </summary>
    public static Tensor KaimingUniformDefault(Rng? rng, int fanIn, params int[] shape) => Uniform(rng, 1f / MathF.Sqrt(Math.Max(1, fanIn)), shape);

    /// <summary>PyTorch's default bias for Linear and Conv: U(±1/sqrt(fan_in)).</summary>
    public static Tensor BiasDefault(Rng? rng, int fanIn, int size) => Uniform(rng, fanIn > 0 ? 1f / MathF.Sqrt(fanIn) : 0f, size);

    /// <summary>Xavier/Glorot uniform: U(±gain·sqrt(6/(fan_in+fan_out))).</summary>
    public static Tensor XavierUniform(Rng? rng, int fanIn, int fanOut, float gain = 1f, params int[] shape) =>
        Uniform(rng, gain * MathF.Sqrt(6f / (fanIn + fanOut)), shape);
}
