using FlowGuide.Models.Video;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>Motion classifier guidance through the real pipeline with the tiny MotionPrompt stack and a tiny random classifier.</summary>
public class MotionClassifierHookTests
{
    private static readonly string[] Classes = { "moves left", "moves right", "stays still" };

    private static LatentMotionClassifier Classifier()
    {
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(4, Classes), new Rng(41));
        c.Freeze();
        c.Eval();
        return c;
    }

    private static string? AskLeft(string? prompt) => prompt == MotionPromptTestParts.Prompt ? "moves left" : null;

    private static float[] Generate(MotionPromptTestParts parts, params IGuidanceHook[] hooks) =>
        parts.Pipeline.Generate(MotionPromptTestParts.Prompt, MotionPromptTestParts.Generation(steps: 4), hooks).Latent.ToArray();

    [Fact]
    public void TheVelocityMovesAlongTheGradientOfTheAskedClassesLogProbability()
    {
        var parts = new MotionPromptTestParts();
        var c = Classifier();
        var options = new MotionGuidanceOptions { Scale = 2.5, Window = StepWindow.All, MaxWeight = 10 };
        var before = new List<(float[] Latent, float[] V, double Sigma)>();
        var after = new List<float[]>();
        var first = new ProbeHook(StepWindow.All) { Prediction = (ctx, v) => before.Add((ctx.Latent.ToArray(), v.ToArray(), ctx.Sigma)) };
        var last = new ProbeHook(StepWindow.All) { Prediction = (_, v) => after.Add(v.ToArray()) };
        var hook = new MotionClassifierHook(c, options, AskLeft);
        Generate(parts, first, hook, last);
        Assert.Equal(4, before.Count);
        Assert.Equal(4, hook.History.Count);
        for (int s = 0; s < 4; s++)
        {
            var (latent, v, sigma) = before[s];
            var z = Tensor.FromArray(latent, 1, 4, 3, 4, 4).DetachedLeaf();
            Tensor g;
            using (GradMode.EnableGrad())
                g = Autograd.Grad(c.LogProbability(z, Tensor.FromArray(new[] { (float)sigma }, 1), new[] { 0 }), new[] { z })[0];
            double w = Math.Min(sigma / (1 - sigma), 10);
            var gs = g.ToArray();
            for (int i = 0; i < v.Length; i++)
                Assert.Equal(v[i] - 2.5 * w * gs[i], after[s][i], 4);
            Assert.InRange(hook.History[s].Probability, 0, 1);
            Assert.Equal(sigma, hook.History[s].Sigma);
        }
    }

    [Fact]
    public void ScaleZeroOrAPromptWithoutAClassLeavesTheRunUntouched()
    {
        var parts = new MotionPromptTestParts();
        var c = Classifier();
        var plain = Generate(parts);
        Assert.Equal(plain, Generate(parts, new MotionClassifierHook(c, new MotionGuidanceOptions { Scale = 0 }, AskLeft)));
        Assert.Equal(plain, Generate(parts, new MotionClassifierHook(c, new MotionGuidanceOptions { Scale = 3 }, _ => (MotionTarget?)null)));
        var guided = Generate(parts, new MotionClassifierHook(c, new MotionGuidanceOptions { Scale = 3 }, AskLeft));
        Assert.NotEqual(plain, guided);
        // the same seed gives the same guided result
        Assert.Equal(guided, Generate(parts, new MotionClassifierHook(c, new MotionGuidanceOptions { Scale = 3 }, AskLeft)));
    }

    [Fact]
    public void GuidanceRaisesTheProbabilityOfTheAskedClassAtTheEnd()
    {
        var parts = new MotionPromptTestParts();
        var c = Classifier();
        double P(float[] latent, int label)
        {
            using var _ = GradMode.NoGrad();
            return Math.Exp(c.LogProbability(Tensor.FromArray(latent, 1, 4, 3, 4, 4), Tensor.FromArray(new[] { 0f }, 1), new[] { label }).Item());
        }
        var all = new MotionGuidanceOptions { Scale = 20, Window = StepWindow.All };
        var plain = Generate(parts);
        var left = Generate(parts, new MotionClassifierHook(c, all, AskLeft));
        var right = Generate(parts, new MotionClassifierHook(c, all, _ => "moves right"));
        Assert.True(P(left, 0) > P(plain, 0), $"p(left) plain {P(plain, 0):F4}, guided {P(left, 0):F4}");
        Assert.True(P(right, 1) > P(plain, 1), $"p(right) plain {P(plain, 1):F4}, guided {P(right, 1):F4}");
    }

    [Fact]
    public void AConditionalClassifierIsToldTheSubjectThePromptIsAbout()
    {
        var parts = new MotionPromptTestParts();
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(4, Classes, new[] { "red", "blue" }), new Rng(42));
        var rng = new Rng(43);
        foreach (var layer in c.Film!.Items) rng.FillUniform(layer.Weight.Span, -1f, 1f);
        c.Freeze();
        c.Eval();
        var options = new MotionGuidanceOptions { Scale = 2.5, Window = StepWindow.All };
        var before = new List<(float[] Latent, float[] V, double Sigma)>();
        var after = new List<float[]>();
        var first = new ProbeHook(StepWindow.All) { Prediction = (ctx, v) => before.Add((ctx.Latent.ToArray(), v.ToArray(), ctx.Sigma)) };
        var last = new ProbeHook(StepWindow.All) { Prediction = (_, v) => after.Add(v.ToArray()) };
        var blue = new MotionClassifierHook(c, options, _ => new MotionTarget("moves right", "blue"));
        var guidedBlue = Generate(parts, first, blue, last);
        for (int s = 0; s < before.Count; s++)
        {
            var (latent, v, sigma) = before[s];
            var z = Tensor.FromArray(latent, 1, 4, 3, 4, 4).DetachedLeaf();
            Tensor g;
            using (GradMode.EnableGrad())
                g = Autograd.Grad(c.LogProbability(z, Tensor.FromArray(new[] { (float)sigma }, 1), new[] { 1 }, new[] { 1 }), new[] { z })[0];
            double w = Math.Min(sigma / (1 - sigma), 10);
            var gs = g.ToArray();
            for (int i = 0; i < v.Length; i++) Assert.Equal(v[i] - 2.5 * w * gs[i], after[s][i], 4);
        }
        Assert.NotEqual(guidedBlue, Generate(parts, new MotionClassifierHook(c, options, _ => new MotionTarget("moves right", "red"))));
        Assert.Contains("no subject was given", Assert.Throws<ArgumentException>(() => Generate(parts, new MotionClassifierHook(c, options, _ => "moves right"))).Message);
        Assert.Contains("no subject 'green'", Assert.Throws<ArgumentException>(() =>
            Generate(parts, new MotionClassifierHook(c, options, _ => new MotionTarget("moves right", "green")))).Message);
    }

    [Fact]
    public void NoiseSearchContinuesFromTheCandidateTheClassifierScoresBest()
    {
        var parts = new MotionPromptTestParts();
        var c = Classifier();
        var guided = new MotionGuidanceOptions { Scale = 2, Window = StepWindow.All };
        var search = new MotionClassifierHook(c, guided with { Candidates = 5, ProbeSigma = 0.6, LookaheadSteps = 2 }, AskLeft);
        var options = MotionPromptTestParts.Generation(steps: 4);
        var result = parts.Pipeline.Generate(MotionPromptTestParts.Prompt, options, new[] { search }).Latent.ToArray();
        var r = Assert.Single(search.Searches);
        Assert.Equal(5, r.LogProbabilities.Length);
        Assert.Equal(0.6, r.ProbeSigma);
        Assert.All(r.LogProbabilities, v => Assert.InRange(v, double.NegativeInfinity, 0));
        Assert.Equal(Array.IndexOf(r.LogProbabilities, r.LogProbabilities.Max()), r.Chosen);
        Assert.Equal(4, search.History.Count);                      // the guided steps run as usual after the choice

        // the candidates are the run's noise and then fresh draws from its generator: the searched run is the guided run
        // that starts from the chosen one
        var shape = parts.Pipeline.LatentShape(options);
        var rng = new Rng(options.Seed);
        var noises = Enumerable.Range(0, 5).Select(_ => Tensor.Randn(rng, shape)).ToArray();
        Tensor cond, uncond;
        using (GradMode.NoGrad()) (cond, uncond) = (parts.Text.Encode(MotionPromptTestParts.Prompt), parts.Text.Encode(options.NegativePrompt));
        var again = parts.Pipeline.Denoise(noises[r.Chosen], cond, uncond, options, new Rng(99),
            new[] { new MotionClassifierHook(c, guided, _ => "moves left") }).ToArray();
        Assert.Equal(again, result);

        // same seed, same choice; one candidate is no search
        var twice = new MotionClassifierHook(c, guided with { Candidates = 5, ProbeSigma = 0.6, LookaheadSteps = 2 }, AskLeft);
        Assert.Equal(result, Generate(parts, twice));
        Assert.Equal(r.LogProbabilities, twice.Searches[0].LogProbabilities);
        // the look-ahead batch only trades speed for memory: one at a time scores the candidates the same
        var oneByOne = new MotionClassifierHook(c, guided with { Candidates = 5, ProbeSigma = 0.6, LookaheadSteps = 2, SearchBatch = 1 }, AskLeft);
        Generate(parts, oneByOne);
        Assert.Equal(r.LogProbabilities, oneByOne.Searches[0].LogProbabilities, new Tolerance(1e-4));
        Assert.Equal(r.Chosen, oneByOne.Searches[0].Chosen);
        var single = new MotionClassifierHook(c, guided with { Candidates = 1 }, AskLeft);
        Assert.Equal(Generate(parts, new MotionClassifierHook(c, guided, AskLeft)), Generate(parts, single));
        Assert.Empty(single.Searches);
    }

    [Fact]
    public void AClassTheClassifierReadsPoorlyIsLeftUnguided()
    {
        var parts = new MotionPromptTestParts();
        var c = Classifier();
        c.TrainingInfo = new System.Text.Json.Nodes.JsonObject
        {
            ["class_accuracy"] = new System.Text.Json.Nodes.JsonObject { ["moves left"] = 0.3, ["moves right"] = 0.9 },
        };
        var o = new MotionGuidanceOptions { Scale = 3, Candidates = 3, MinClassAccuracy = 0.5 };
        var plain = Generate(parts);
        var left = new MotionClassifierHook(c, o, AskLeft);
        Assert.Equal(0.3, left.ClassAccuracy("moves left"));
        Assert.Null(left.ClassAccuracy("spins"));
        Assert.False(left.Guides(MotionPromptTestParts.Prompt));
        Assert.Equal(plain, Generate(parts, left));                 // no guidance and no search
        Assert.Empty(left.History);
        Assert.Empty(left.Searches);
        var right = new MotionClassifierHook(c, o, _ => "moves right");
        Assert.True(right.Guides(MotionPromptTestParts.Prompt));
        Assert.NotEqual(plain, Generate(parts, right));
        Assert.NotEmpty(right.Searches);
        // a lower bar, or a classifier without per-class figures, guides
        Assert.True(new MotionClassifierHook(c, o with { MinClassAccuracy = 0.2 }, AskLeft).Guides(MotionPromptTestParts.Prompt));
        Assert.True(new MotionClassifierHook(Classifier(), o, AskLeft).Guides(MotionPromptTestParts.Prompt));
        Assert.Contains("MinClassAccuracy", Assert.Throws<ArgumentException>(() => new MotionGuidanceOptions { MinClassAccuracy = 1.5 }.Validate()).Message);
    }

    [Fact]
    public void BadSettingsAndUnknownClassesThrowNamingThem()
    {
        Assert.Contains("Scale", Assert.Throws<ArgumentException>(() => new MotionGuidanceOptions { Scale = -1 }.Validate()).Message);
        Assert.Contains("MaxWeight", Assert.Throws<ArgumentException>(() => new MotionGuidanceOptions { MaxWeight = 0 }.Validate()).Message);
        Assert.Contains("Candidates", Assert.Throws<ArgumentException>(() => new MotionGuidanceOptions { Candidates = 0 }.Validate()).Message);
        Assert.Contains("ProbeSigma", Assert.Throws<ArgumentException>(() => new MotionGuidanceOptions { ProbeSigma = 1 }.Validate()).Message);
        Assert.Contains("SearchBatch", Assert.Throws<ArgumentException>(() => new MotionGuidanceOptions { SearchBatch = 0 }.Validate()).Message);
        Assert.Contains("LookaheadSteps", Assert.Throws<ArgumentException>(() => new MotionGuidanceOptions { LookaheadSteps = 0 }.Validate()).Message);
        var parts = new MotionPromptTestParts();
        var hook = new MotionClassifierHook(Classifier(), new MotionGuidanceOptions(), _ => "spins");
        Assert.Contains("no class 'spins'", Assert.Throws<ArgumentException>(() => Generate(parts, hook)).Message);
    }

    private sealed class Tolerance(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(double v) => 0;
    }
}
