using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>LayerNorm over the last dimension; with <c>affine</c> it has <c>weight</c> (ones) and <c>bias</c> (zeros).</summary>
public sealed class LayerNorm : Module
{
    public LayerNorm(int size, float eps = 1e-5f, bool affine = true)
    {
        if (size <= 0) throw new ArgumentException($"LayerNorm: size must be positive, got {size}.");
        Size = size;
        Eps = eps;
        Weight = affine ? Parameter("weight", Tensor.Ones(size)) : null;
        Bias = affine ? Parameter("bias", Tensor.Zeros(size)) : null;
    }

    public int Size { get; }
    public float Eps { get; }
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }

    public Tensor Forward(Tensor x) => Ops.LayerNorm(x, Size, Weight, Bias, Eps);
}

/// <summary>RMSNorm over the last dimension: x / sqrt(mean(x²) + eps) · weight (weight initialised to ones).</summary>
public sealed class RmsNorm : Module
{
    public RmsNorm(int size, float eps = 1e-6f, bool affine = true)
    {
        if (size <= 0) throw new ArgumentException($"RmsNorm: size must be positive, got {size}.");
        Eps = eps;
        Weight = affine ? Parameter("weight", Tensor.Ones(size)) : null;
    }

    public float Eps { get; }
    public Tensor? Weight { get; }

    public Tensor Forward(Tensor x) => Ops.RmsNorm(x, Weight, Eps);
}
