using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>y = x W^T + b with weight [out, in] (PyTorch layout, so checkpoints load as they are).</summary>
public sealed class Linear : Module
{
    public Linear(int inFeatures, int outFeatures, bool bias, Rng? rng)
    {
        if (inFeatures <= 0 || outFeatures <= 0) throw new ArgumentException($"Linear: features must be positive, got in={inFeatures}, out={outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = Parameter("weight", Init.KaimingUniformDefault(rng, inFeatures, outFeatures, inFeatures));
        Bias = bias ? Parameter("bias", Init.BiasDefault(rng, inFeatures, outFeatures)) : null;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}

/// <summary>A lookup table [count, dim] initialised N(0, 1); rows are gathered by id and their gradient scatter-added.</summary>
public sealed class Embedding : Module
{
    public Embedding(int count, int dim, Rng? rng)
    {
        if (count <= 0 || dim <= 0) throw new ArgumentException($"Embedding: count and dim must be positive, got {count}, {dim}.");
        Weight = Parameter("weight", Init.Normal(rng, 1f, count, dim));
    }

    public Tensor Weight { get; }

    /// <summary>Rows for <paramref name="ids"/>; output [ids.Length, dim].</summary>
    public Tensor Forward(int[] ids) => Ops.IndexSelect(Weight, 0, ids);
}

/// <summary>Inverted dropout: zeroes elements with probability p in training and scales the rest by 1/(1-p); identity in eval.</summary>
public sealed class Dropout(float p, Rng rng) : Module
{
    public float P { get; } = p is >= 0 and < 1 ? p : throw new ArgumentException($"Dropout: p must be in [0, 1), got {p}.");

    public Tensor Forward(Tensor x)
    {
        if (!Training || P == 0) return x;
        var mask = Tensor.Empty(x.Shape);
        rng.FillUniform(mask.Span);
        var m = mask.Span;
        float keep = 1f / (1f - P);
        for (int i = 0; i < m.Length; i++) m[i] = m[i] >= P ? keep : 0f;
        return Ops.Mul(x, mask);
    }
}

/// <summary>GELU (tanh approximation) as a module.</summary>
public sealed class Gelu : Module
{
    public Tensor Forward(Tensor x) => Ops.Gelu(x);
}

/// <summary>SiLU (x·sigmoid x) as a module.</summary>
public sealed class Silu : Module
{
    public Tensor Forward(Tensor x) => Ops.Silu(x);
}
