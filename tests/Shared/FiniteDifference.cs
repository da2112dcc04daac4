using FlowGuide.Tensors;

namespace FlowGuide.TestSupport;

/// <summary>Central finite differences for gradient tests.</summary>
internal static class FiniteDifference
{
    /// <summary>
    /// (f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps) for element <paramref name="index"/> of <paramref name="x"/>, which is
    /// nudged in place and restored; <paramref name="f"/> reads <paramref name="x"/>.
    /// </summary>
    public static double Central(Tensor x, int index, float eps, Func<double> f)
    {
        float keep = x.Span[index];
        try
        {
            x.Span[index] = keep + eps;
            double up = f();
            x.Span[index] = keep - eps;
            double down = f();
            return (up - down) / (2 * eps);
        }
        finally
        {
            x.Span[index] = keep;
        }
    }
}
