namespace FlowGuide.Nn.Optim;

/// <summary>SGD with optional momentum (PyTorch semantics: buf = momentum*buf + g, first step buf = g), Nesterov and L2 weight decay.</summary>
public sealed class Sgd : Optimizer
{
    public Sgd(IEnumerable<KeyValuePair<string, FlowGuide.Tensors.Tensor>> parameters, float learningRate, float momentum = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(parameters, learningRate)
    {
        if (momentum < 0 || weightDecay < 0) throw new ArgumentException($"Sgd: momentum ({momentum}) and weight decay ({weightDecay}) must be >= 0.");
        if (nesterov && momentum == 0) throw new ArgumentException("Sgd: Nesterov momentum needs momentum > 0.");
        Momentum = momentum;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    public float Momentum { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }

    protected override void Update(string name, Span<float> p, ReadOnlySpan<float> g)
    {
        float lr = LearningRate, wd = WeightDecay, mu = Momentum;
        var buf = mu != 0 ? Slot(name, "momentum", p.Length) : null;
        bool first = StepCount == 1;
        for (int i = 0; i < p.Length; i++)
        {
            float d = g[i] + wd * p[i];
            if (buf is not null)
            {
                buf[i] = first ? d : mu * buf[i] + d;
                d = Nesterov ? d + mu * buf[i] : buf[i];
            }
            p[i] -= lr * d;
        }
    }
}
