namespace FlowGuide.Guidance;

/// <summary>
/// PyTorch's Adam (no weight decay, no amsgrad) on one flat float parameter, moments in double: what guidance methods
/// that build "a fresh Adam over the latent" per guided step need, without the module/parameter machinery.
/// </summary>
internal sealed class LatentAdam(int count, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
{
    private readonly double[] _m = new double[count];
    private readonly double[] _v = new double[count];
    private int _t;

    /// <summary>Steps taken so far.</summary>
    public int Steps => _t;

    /// <summary><c>z -= lr * m_hat / (sqrt(v_hat) + eps)</c> with bias-corrected moments of the gradients seen so far.</summary>
    public void Step(Span<float> z, ReadOnlySpan<float> g)
    {
        if (z.Length != _m.Length || g.Length != _m.Length)
            throw new ArgumentException($"LatentAdam: expected {_m.Length} values, got a parameter of {z.Length} and a gradient of {g.Length}.");
        _t++;
        double bias1 = 1 - Math.Pow(beta1, _t), sqrtBias2 = Math.Sqrt(1 - Math.Pow(beta2, _t));
        double stepSize = learningRate / bias1;
        for (int i = 0; i < z.Length; i++)
        {
            double gi = g[i];
            _m[i] = beta1 * _m[i] + (1 - beta1) * gi;
            _v[i] = beta2 * _v[i] + (1 - beta2) * gi * gi;
            double denom = Math.Sqrt(_v[i]) / sqrtBias2 + epsilon;
            z[i] = (float)(z[i] - stepSize * _m[i] / denom);
        }
    }
}
