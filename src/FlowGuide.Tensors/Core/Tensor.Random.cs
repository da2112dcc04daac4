namespace FlowGuide.Tensors;

public sealed partial class Tensor
{
    /// <summary>
    /// Standard normal values from <paramref name="rng"/>, row-major (element i takes words 2i and 2i+1 after the
    /// generator's position), so the same seed gives the same tensor on any machine and thread count.
    /// </summary>
    public static Tensor Randn(Rng rng, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var t = Empty(new Shape(shape));
        rng.FillNormal(t.Span);
        return t;
    }

    /// <summary>Normal values with the shape of <paramref name="like"/> (e.g. initial noise for a latent).</summary>
    public static Tensor RandnLike(Rng rng, Tensor like) => Randn(rng, like.Shape.ToArray());

    /// <summary>Uniform values on [0, 1), each the top 24 bits of one generator word times 2^-24.</summary>
    public static Tensor Rand(Rng rng, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var t = Empty(new Shape(shape));
        rng.FillUniform(t.Span);
        return t;
    }

    /// <summary>Uniform values on [<paramref name="lo"/>, <paramref name="hi"/>); see <see cref="Rng.FillUniform(Span{float}, float, float)"/>.</summary>
    public static Tensor RandUniform(Rng rng, float lo, float hi, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var t = Empty(new Shape(shape));
        rng.FillUniform(t.Span, lo, hi);
        return t;
    }
}
