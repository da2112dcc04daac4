using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>MotionPrompt through the real pipeline on the tiny stack of <see cref="MotionPromptTestParts"/>.</summary>
public class MotionPromptHookTests
{
    private const string Prompt = MotionPromptTestParts.Prompt;

    private static float[] Eval(Func<Tensor> f) { using var _ = GradMode.NoGrad(); return f().ToArray(); }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OptimisedPromptIsUsedInsideTheWindowAndTheOriginalOutside(bool reuseVelocity)
    {
        var parts = new MotionPromptTestParts();
        var hook = new MotionPromptHook(parts.Discriminator, MotionPromptTestParts.Options(1, 3) with { ReuseVelocity = reuseVelocity });
        int m = parts.Text.Tokenize(Prompt).Length;
        var seen = new Dictionary<int, bool>();
        var probe = new ProbeHook(StepWindow.All)
        {
            Before = ctx =>
            {
                var used = ctx.PromptEmbeddings.ToArray();
                var run = ctx.RunPromptEmbeddings.ToArray();
                bool replaced = !used.SequenceEqual(run);
                seen[ctx.Step] = replaced;
                if (!replaced) return;
                // the prompt's rows changed only through attention; the appended row m is new, rows after it stay zero
                int d = parts.Text.OutputDim;
                Assert.Contains(used.Skip(m * d).Take(d), x => x != 0);
                Assert.All(used.Skip((m + 1) * d), x => Assert.Equal(0f, x));
                Assert.All(run.Skip(m * d), x => Assert.Equal(0f, x));
            },
            Prediction = (ctx, v) =>
            {
                // the loop stepped with the velocity of the step's prompt (optimised inside the window): its own model
                // call, or inside the window with ReuseVelocity the hook's (a batch of one: equal up to rounding)
                var expected = Eval(() => ctx.Velocity(ctx.Latent, ctx.PromptEmbeddings));
                if (!reuseVelocity || !seen[ctx.Step]) Assert.Equal(expected, v.ToArray());
                else
                {
                    float scale = expected.Max(Math.Abs);
                    Assert.All(expected.Zip(v.ToArray()), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5f * scale, $"{p.Second} vs {p.First}"));
                }
                if (seen[ctx.Step]) Assert.NotEqual(Eval(() => ctx.Velocity(ctx.Latent, ctx.RunPromptEmbeddings)), v.ToArray());
            },
        };
        parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(), new IGuidanceHook[] { hook, probe });
        Assert.Equal(new Dictionary<int, bool> { [0] = false, [1] = true, [2] = true, [3] = false }, seen);
        Assert.Equal(new[] { (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2) }, hook.History.Select(r => (r.Step, r.Iteration)));
        Assert.Equal("the", hook.InitWordUsed); // "authentic" is not in the tiny vocabulary
    }

    [Fact]
    public void OnlyTheTokensChangeAndTheyCarryAcrossSteps()
    {
        var parts = new MotionPromptTestParts();
        var before = parts.Weights();
        var hook = new MotionPromptHook(parts.Discriminator, MotionPromptTestParts.Options(0, 2) with { Iterations = 2, LearningRate = 0.05 });
        var initial = Eval(() => parts.Text.Embed(parts.Text.Tokenize("the")));
        parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(), new IGuidanceHook[] { hook });

        // weights of every part untouched and without gradients
        var after = parts.Weights();
        foreach (var (k, w) in before) Assert.True(w.SequenceEqual(after[k]), $"{k} changed");
        foreach (var mod in new FlowGuide.Nn.Module[] { parts.Text, parts.Vae, parts.Wan, parts.Discriminator })
            Assert.All(mod.Parameters(), w => { Assert.False(w.RequiresGrad); Assert.Null(w.Grad); });
        // the tokens moved away from "the" and the cosine record follows them (1 at the very first iteration)
        var tokens = hook.Tokens!.ToArray();
        Assert.NotEqual(initial, tokens);
        Assert.Equal(1.0, hook.History[0].CosineToInitial, 6);
        Assert.True(hook.History[^1].CosineToInitial < 1.0);
        Assert.True(hook.History[^1].Regularization > 0); // T carried into step 1: |T - T0|^2 > 0 there
        Assert.Equal(0.0, hook.History[0].Regularization, 12);
    }

    [Fact]
    public void SameSeedSameVideoAndStateResetsBetweenRuns()
    {
        var parts = new MotionPromptTestParts();
        var hook = new MotionPromptHook(parts.Discriminator, MotionPromptTestParts.Options(0, 2));
        var a = parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(), new IGuidanceHook[] { hook }).Latent.ToArray();
        var b = parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(), new IGuidanceHook[] { hook }).Latent.ToArray();
        Assert.Equal(a, b);
        Assert.Equal(hook.History.Take(6).Select(r => r.Loss), hook.History.Skip(6).Select(r => r.Loss));
        var plain = parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation()).Latent.ToArray();
        Assert.NotEqual(plain, a);
        Assert.All(a, x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void CombinesWithFlowMoWhichThenSeesTheOptimisedPrompt()
    {
        var parts = new MotionPromptTestParts();
        var window = StepWindow.Steps(1, 2);
        var mp = new MotionPromptHook(parts.Discriminator, MotionPromptTestParts.Options(1, 2));
        var flowmo = new FlowMoHook(new FlowMoOptions { Window = window });
        double? expected = null;
        var between = new ProbeHook(window)
        {
            Before = ctx =>
            {
                Assert.NotEqual(ctx.RunPromptEmbeddings.ToArray(), ctx.PromptEmbeddings.ToArray());
                using var _ = GradMode.NoGrad();
                expected = FlowMoLoss.Compute(ctx.Velocity(ctx.Latent)).Item();
            },
        };
        var result = parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(), new IGuidanceHook[] { mp, between, flowmo });
        Assert.Single(flowmo.History);
        Assert.Equal(expected!.Value, flowmo.History[0].Loss, 5); // FlowMo differentiated the velocity with MotionPrompt's prompt
        Assert.Equal(3, mp.History.Count);
        Assert.All(result.Latent.ToArray(), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void PairsAreDrawnWithoutRepeatsAndMoreIterationsLowerTheLoss()
    {
        var parts = new MotionPromptTestParts();
        var hook = new MotionPromptHook(parts.Discriminator, MotionPromptTestParts.Options(0, 1) with
        {
            FramePairs = 4, Iterations = 4, LearningRate = 0.05, Optimizer = MotionPromptOptimizer.Adam,
        });
        parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(steps: 2), new IGuidanceHook[] { hook });
        Assert.All(hook.History, r => Assert.Equal(new[] { 0, 1, 2, 3 }, r.PairStarts.Order()));
        Assert.True(hook.History[^1].Loss < hook.History[0].Loss, string.Join(", ", hook.History.Select(r => r.Loss)));
    }

    [Fact]
    public void MisuseThrowsNamingTheProblem()
    {
        var parts = new MotionPromptTestParts();
        var o = MotionPromptTestParts.Options(0, 1);
        // a prompt that is not the run's
        var wrong = new MotionPromptHook(parts.Discriminator, o, prompt: "a red circle");
        Assert.Contains("does not encode", Assert.Throws<InvalidOperationException>(() =>
            parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(steps: 1), new IGuidanceHook[] { wrong })).Message);
        // more pairs than the 5-frame video has
        var many = new MotionPromptHook(parts.Discriminator, o with { FramePairs = 5 });
        Assert.Contains("4 pairs", Assert.Throws<InvalidOperationException>(() =>
            parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(steps: 1), new IGuidanceHook[] { many })).Message);
        // no fallback for an unknown init word
        var noFallback = new MotionPromptHook(parts.Discriminator, o with { FallbackInitWord = null });
        Assert.Contains("authentic", Assert.Throws<ArgumentException>(() =>
            parts.Pipeline.Generate(Prompt, MotionPromptTestParts.Generation(steps: 1), new IGuidanceHook[] { noFallback })).Message);
        // a run from embeddings has no prompt text unless the hook is given it
        var fromEmbeddings = new MotionPromptHook(parts.Discriminator, o);
        Tensor cond, uncond;
        using (GradMode.NoGrad()) { cond = parts.Text.Encode(Prompt); uncond = parts.Text.Encode(""); }
        Assert.Throws<InvalidOperationException>(() => parts.Pipeline.GenerateFromEmbeddings(cond, uncond, MotionPromptTestParts.Generation(steps: 1), new IGuidanceHook[] { fromEmbeddings }));
        var given = new MotionPromptHook(parts.Discriminator, o, prompt: Prompt);
        parts.Pipeline.GenerateFromEmbeddings(cond, uncond, MotionPromptTestParts.Generation(steps: 1), new IGuidanceHook[] { given });
        Assert.Equal(3, given.History.Count);
        // option ranges
        Assert.Throws<ArgumentException>(() => new MotionPromptHook(parts.Discriminator, o with { TokenCount = 0 }));
        Assert.Throws<ArgumentException>(() => new MotionPromptHook(parts.Discriminator, o with { LearningRate = 0 }));
        Assert.Throws<ArgumentException>(() => new MotionPromptHook(parts.Discriminator, o with { TvWeight = -1 }));
        // the paper's 3 < t < 15 of 50 (strict: 11 steps), and its share of a 20-step run
        Assert.Equal((4, 15), new MotionPromptOptions().Window.Resolve(50));
        Assert.Equal((2, 6), new MotionPromptOptions().Window.Resolve(20));
    }
}
