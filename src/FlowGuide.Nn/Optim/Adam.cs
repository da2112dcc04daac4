namespace FlowGuide.Nn.Optim;

/// <summary>
/// Adam (Kingma and Ba) with bias correction. <see cref="Decoupled"/> selects AdamW: weight decay multiplies the
/// parameter by (1 - lr*wd) instead of being added to the gradient.
/// </summary>
public class Adam : Optimizer
{
    public Adam(IEnumerable<KeyValuePair<string, FlowGuide.Tensors.Tensor>> parameters, float learningRate = 1e-3f,
        float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0f)
        : this(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: false) { }

    protected Adam(IEnumerable<KeyValuePair<string, FlowGuide.Tensors.Tensor>> parameters, float learningRate,
        float beta1, float beta2, float eps, float weightDecay, bool decoupled)
        : base(parameters, learningRate)
    {
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1) throw new ArgumentException($"{GetType().Name}: betas must be in [0, 1), got ({beta1}, {beta2}).");
        if (eps <= 0 || weightDecay < 0) throw new ArgumentException($"{GetType().Name}: eps must be > 0 and weight decay >= 0, got {eps}, {weightDecay}.");
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay; Decoupled = decoupled;
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public float WeightDecay { get; }
    public bool Decoupled { get; }

    protected override void Update(string name, Span<float> p, ReadOnlySpan<float> g)
    {
        var m = Slot(name, "exp_avg", p.Length);
        var v = Slot(name, "exp_avg_sq", p.Length);
        float lr = LearningRate, b1 = Beta1, b2 = Beta2, wd = WeightDecay;
        double bc1 = 1 - Math.Pow(b1, StepCount), bc2 = 1 - Math.Pow(b2, StepCount);
        float stepSize = (float)(lr / bc1);
        float sqrtBc2 = (float)Math.Sqrt(bc2);
        float decay = Decoupled ? 1f - lr * wd : 1f;
        for (int i = 0; i < p.Length; i++)
        {
            float gi = Decoupled ? g[i] : g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] = p[i] * decay - stepSize * m[i] / (MathF.Sqrt(v[i]) / sqrtBc2 + Eps);
        }
    }
}

/// <summary>AdamW (Loshchilov and Hutter): Adam with decoupled weight decay (default 0.01 as in PyTorch).</summary>
public sealed class AdamW(IEnumerable<KeyValuePair<string, FlowGuide.Tensors.Tensor>> parameters, float learningRate = 1e-3f,
    float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0.01f)
    : Adam(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true);
