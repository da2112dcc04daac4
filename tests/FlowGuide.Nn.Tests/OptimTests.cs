using FlowGuide.Nn;
using FlowGuide.Nn.Optim;
using FlowGuide.Tensors;

namespace FlowGuide.Nn.Tests;

public class OptimTests
{
    /// <summary>y = X w* + b* with w* = [2, -3, 0.5], b* = 1, noise-free.</summary>
    private static (Tensor X, Tensor Y) Regression(int n = 64)
    {
        var rng = new Rng(42);
        var x = Tensor.Randn(rng, n, 3);
        var w = Tensor.FromArray(new[] { 2f, -3f, 0.5f }, 1, 3);
        Tensor y;
        using (GradMode.NoGrad()) y = Ops.Linear(x, w, Tensor.FromArray(new[] { 1f }, 1));
        return (x, y);
    }

    private static Linear Fit(Func<IEnumerable<KeyValuePair<string, Tensor>>, Optimizer> make, int steps, out float loss)
    {
        var (x, y) = Regression();
        var model = new Linear(3, 1, true, new Rng(0));
        var opt = make(model.NamedParameters());
        loss = float.NaN;
        for (int i = 0; i < steps; i++)
        {
            opt.ZeroGrad();
            var l = Ops.Mean(Ops.Square(model.Forward(x) - y));
            l.Backward();
            opt.Step();
            loss = l.Item();
        }
        return model;
    }

    public static TheoryData<string> Optimizers => new() { "sgd", "sgd-nesterov", "adam", "adamw" };

    private static Optimizer Make(string kind, IEnumerable<KeyValuePair<string, Tensor>> p) => kind switch
    {
        "sgd" => new Sgd(p, 0.05f, momentum: 0.9f),
        "sgd-nesterov" => new Sgd(p, 0.05f, momentum: 0.9f, nesterov: true),
        "adam" => new Adam(p, 0.05f),
        _ => new AdamW(p, 0.05f, weightDecay: 1e-4f),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void TrainsARegressionToTheKnownSolution(string kind)
    {
        var m = Fit(p => Make(kind, p), 600, out var loss);
        Assert.True(loss < 1e-4, $"{kind}: final loss {loss}");
        var w = m.Weight.ToArray();
        float tol = kind == "adamw" ? 2e-2f : 1e-2f; // decoupled decay pulls slightly toward 0
        Assert.Equal(2f, w[0], tol);
        Assert.Equal(-3f, w[1], tol);
        Assert.Equal(0.5f, w[2], tol);
        Assert.Equal(1f, m.Bias!.Span[0], tol);
    }

    [Fact]
    public void AdamFirstStepMovesEachWeightByTheLearningRate()
    {
        // With bias correction the first Adam step is lr * g/|g| per element (eps aside).
        var p = Tensor.FromArray(new[] { 1f, 1f }, 2); p.RequiresGrad = true;
        p.Grad = Tensor.FromArray(new[] { 0.3f, -7f }, 2);
        var opt = new Adam(new[] { KeyValuePair.Create("p", p) }, 0.1f);
        opt.Step();
        Assert.Equal(0.9f, p.Span[0], 5);
        Assert.Equal(1.1f, p.Span[1], 5);
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void ResumeFromSavedStateIsExact(string kind)
    {
        var (x, y) = Regression();
        const int n = 25;

        void Train(Linear model, Optimizer opt, int steps)
        {
            for (int i = 0; i < steps; i++)
            {
                opt.ZeroGrad();
                Ops.Mean(Ops.Square(model.Forward(x) - y)).Backward();
                opt.LearningRate = LrSchedule.WarmupCosine(opt.StepCount + 1, 0.05f, 5, 2 * n);
                opt.Step();
            }
        }

        var straight = new Linear(3, 1, true, new Rng(0));
        Train(straight, Make(kind, straight.NamedParameters()), 2 * n);

        var first = new Linear(3, 1, true, new Rng(0));
        var opt1 = Make(kind, first.NamedParameters());
        Train(first, opt1, n);
        var savedModel = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        var savedOpt = opt1.StateDict();

        var resumed = new Linear(3, 1, true, new Rng(99)); // different init: everything must come from the checkpoint
        resumed.LoadStateDict(savedModel);
        var opt2 = Make(kind, resumed.NamedParameters());
        opt2.LoadStateDict(savedOpt);
        Assert.Equal(n, opt2.StepCount);
        Train(resumed, opt2, n);

        Assert.Equal(straight.Weight.ToArray(), resumed.Weight.ToArray());
        Assert.Equal(straight.Bias!.ToArray(), resumed.Bias!.ToArray());
    }

    [Fact]
    public void WarmupCosineHitsItsKnots()
    {
        Assert.Equal(0.1f, LrSchedule.WarmupCosine(1, 1f, 10, 110), 6);
        Assert.Equal(1f, LrSchedule.WarmupCosine(10, 1f, 10, 110), 6);
        Assert.Equal(0.55f, LrSchedule.WarmupCosine(60, 1f, 10, 110, 0.1f), 5);   // halfway: (max + min) / 2
        Assert.Equal(0.1f, LrSchedule.WarmupCosine(110, 1f, 10, 110, 0.1f), 6);
        Assert.Equal(0.1f, LrSchedule.WarmupCosine(500, 1f, 10, 110, 0.1f), 6);
        Assert.Throws<ArgumentException>(() => LrSchedule.WarmupCosine(1, 1f, 20, 10));
    }

    [Fact]
    public void ClipGradNormScalesToTheLimitAndReportsTheOriginalNorm()
    {
        var a = Tensor.Zeros(2); a.Grad = Tensor.FromArray(new[] { 3f, 0f }, 2);
        var b = Tensor.Zeros(1); b.Grad = Tensor.FromArray(new[] { 4f }, 1);
        double norm = GradClip.ClipGradNorm(new[] { a, b }, 1.0);
        Assert.Equal(5.0, norm, 6);
        Assert.Equal(0.6f, a.Grad.Span[0], 5);
        Assert.Equal(0.8f, b.Grad.Span[0], 5);
        // Below the limit nothing changes.
        GradClip.ClipGradNorm(new[] { a, b }, 10.0);
        Assert.Equal(0.6f, a.Grad.Span[0], 5);
    }

    [Fact]
    public void EmaFollowsTheRecurrence()
    {
        var m = new Linear(1, 1, false, new Rng(0));
        m.Weight.Span[0] = 0f;
        var ema = new Ema(m, 0.9f);
        m.Weight.Span[0] = 1f;
        ema.Update(); // 0.9*0 + 0.1*1
        ema.Update(); // 0.9*0.1 + 0.1*1
        Assert.Equal(0.19f, ema.StateDict()["weight"].Span[0], 6);
        var copy = new Linear(1, 1, false, new Rng(5));
        ema.CopyTo(copy);
        Assert.Equal(0.19f, copy.Weight.Span[0], 6);
    }

    [Fact]
    public void BadHyperparametersAreRejectedByName()
    {
        var p = new Linear(2, 2, true, new Rng(0)).NamedParameters();
        Assert.Contains("betas", Assert.Throws<ArgumentException>(() => new Adam(p, 1e-3f, beta1: 1f)).Message);
        Assert.Contains("Nesterov", Assert.Throws<ArgumentException>(() => new Sgd(p, 1e-3f, nesterov: true)).Message);
        Assert.Contains("learning rate", Assert.Throws<ArgumentException>(() => new Sgd(p, -1f)).Message);
    }
}
