using FlowGuide.Tensors;

namespace FlowGuide.Sampling.Tests;

public class PipelineTests
{
    [Fact]
    public void ShapesAndValidation()
    {
        var (p, _) = Fakes.Pipeline();
        Assert.Equal(new[] { 1, 4, 3, 4, 4 }, p.LatentShape(Fakes.Small()));
        var r = p.Generate("a cat runs", Fakes.Small(steps: 2));
        Assert.Equal(new[] { 1, 3, 9, 8, 8 }, r.Video.Shape.ToArray());
        Assert.Equal(new[] { 1, 4, 3, 4, 4 }, r.Latent.Shape.ToArray());
        var e = Assert.Throws<ArgumentException>(() => p.Generate("a cat", Fakes.Small() with { Frames = 10 }));
        Assert.Contains("4k + 1", e.Message);
        Assert.Throws<ArgumentException>(() => p.Generate("a cat", Fakes.Small() with { Height = 7 }));
        Assert.Throws<ArgumentException>(() => p.Generate("a cat", Fakes.Small() with { Steps = 0 }));
        var u = Assert.Throws<ArgumentException>(() => p.Generate("a zebra", Fakes.Small()));
        Assert.Contains("'zebra'", u.Message);
    }

    [Theory]
    [InlineData(SamplerKind.Euler)]
    [InlineData(SamplerKind.UniPc)]
    public void SameSeedSameVideo(SamplerKind sampler)
    {
        var (p, _) = Fakes.Pipeline();
        var a = p.Generate("a cat runs left", Fakes.Small(sampler: sampler, seed: 7));
        var b = p.Generate("a cat runs left", Fakes.Small(sampler: sampler, seed: 7));
        var c = p.Generate("a cat runs left", Fakes.Small(sampler: sampler, seed: 8));
        Assert.Equal(a.Video.ToArray(), b.Video.ToArray());
        Assert.Equal(a.Latent.ToArray(), b.Latent.ToArray());
        Assert.NotEqual(a.Latent.ToArray(), c.Latent.ToArray());
        Assert.All(a.Video.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void DenoiseFollowsTheSamplerByHand()
    {
        // The loop with CFG 1 and Euler equals stepping the model by hand.
        var (p, model) = Fakes.Pipeline();
        var enc = Fakes.Encoder();
        var cond = enc.Encode("a dog jumps");
        var unc = enc.Encode("");
        var opts = Fakes.Small(steps: 4, sampler: SamplerKind.Euler, cfg: 1f);
        var z0 = Tensor.Randn(new Rng(1), 1, 4, 3, 4, 4);
        var got = p.Denoise(z0, cond, unc, opts, new Rng(2));
        Assert.Equal(new[] { 999f, 937f, 833f, 624f }, model.CallTimesteps.ToArray()); // floor(1000 * shift5(0.999 * (1 - i/4)))
        var s = SigmaSchedule.Create(4, opts.Shift);
        var z = z0;
        for (int i = 0; i < 4; i++)
            z = FlowMatchEuler.Step(z, model.Forward(z, Tensor.Full((float)s.IntegerTimestep(i), 1), cond), s, i);
        Assert.Equal(z.ToArray(), got.ToArray());
    }

    [Fact]
    public void HookWindowsAreRespected()
    {
        var (p, _) = Fakes.Pipeline();
        var log = new List<string>();
        var byIndex = new LoggingHook("i", log, StepWindow.Steps(2, 5));
        var byFraction = new LoggingHook("f", log, StepWindow.Fractions(0, 0.24));
        p.Generate("a cat", Fakes.Small(steps: 50, cfg: 1f), new[] { byIndex, byFraction });
        Assert.Equal(new[] { 2, 3, 4 }, Steps(log, "i.before"));
        Assert.Equal(new[] { 2, 3, 4 }, Steps(log, "i.after"));
        Assert.Equal(new[] { 2, 3, 4 }, Steps(log, "i.prediction"));
        Assert.Equal(Enumerable.Range(0, 12), Steps(log, "f.before"));
        log.Clear();
        p.Generate("a cat", Fakes.Small(steps: 25, cfg: 1f), new[] { byFraction });
        Assert.Equal(Enumerable.Range(0, 6), Steps(log, "f.before")); // 0.24 * 25 = 6 steps: the window scales
        Assert.Equal((3, 10), StepWindow.Steps(3, 10).Resolve(50));
        Assert.Equal((3, 8), StepWindow.Steps(3, 10).Resolve(8));
    }

    private static int[] Steps(List<string> log, string prefix) =>
        log.Where(l => l.StartsWith(prefix + ".", StringComparison.Ordinal)).Select(l => int.Parse(l[(prefix.Length + 1)..])).ToArray();

    [Fact]
    public void HooksComposeInOrder()
    {
        var (p, _) = Fakes.Pipeline();
        var log = new List<string>();
        var first = new LoggingHook("A", log) { Before = ctx => new LatentUpdate(Ops.AddScalar(ctx.Latent, 1f)) };
        var second = new LoggingHook("B", log);
        p.Generate("a cat", Fakes.Small(steps: 2), new[] { first, second });
        Assert.Equal(new[]
        {
            "A.before.0", "B.before.0", "A.prediction.0", "B.prediction.0", "A.after.0", "B.after.0",
            "A.before.1", "B.before.1", "A.prediction.1", "B.prediction.1", "A.after.1", "B.after.1",
        }, log);
        // B sees A's replacement
        for (int s = 0; s < 2; s++)
        {
            var a = first.SeenLatents[s];
            var b = second.SeenLatents[s];
            for (int k = 0; k < a.Length; k++) Assert.Equal(a[k] + 1f, b[k]);
        }
    }

    [Fact]
    public void ReplacingTheLatentChangesTheResult()
    {
        var (p, _) = Fakes.Pipeline();
        var baseline = p.Generate("a cat", Fakes.Small()).Latent.ToArray();
        var same = p.Generate("a cat", Fakes.Small(), new[] { new LoggingHook("id", new()) { Before = ctx => new LatentUpdate(ctx.Latent.Clone()) } }).Latent.ToArray();
        Assert.Equal(baseline, same);
        var shifted = p.Generate("a cat", Fakes.Small(), new[] { new LoggingHook("s", new(), StepWindow.Steps(1, 2)) { Before = ctx => new LatentUpdate(Ops.AddScalar(ctx.Latent, 0.5f)) } }).Latent.ToArray();
        Assert.NotEqual(baseline, shifted);
        var after = p.Generate("a cat", Fakes.Small(), new[] { new LoggingHook("t", new(), StepWindow.Steps(5, 6)) { After = (ctx, z) => Ops.MulScalar(z, 2f) } }).Latent.ToArray();
        for (int k = 0; k < after.Length; k++) Assert.Equal(baseline[k] * 2f, after[k]); // the last step's output doubled
    }

    [Fact]
    public void GuidanceScaleOneIsTheConditionalVelocityInOnePass()
    {
        var (p, model) = Fakes.Pipeline();
        float[]? viaContext = null, direct = null;
        var probe = new LoggingHook("p", new(), StepWindow.Steps(0, 1))
        {
            Before = ctx =>
            {
                viaContext = ctx.Velocity(ctx.Latent).ToArray();
                direct = ctx.Model.Forward(ctx.Latent, Tensor.Full(ctx.Timestep, 1), ctx.PromptEmbeddings).ToArray();
                return null;
            },
        };
        p.Generate("a cat", Fakes.Small(steps: 3, cfg: 1f), new[] { probe });
        Assert.Equal(direct, viaContext);
        Assert.All(model.CallBatches, b => Assert.Equal(1, b));
        Assert.Equal(3 + 2, model.CallBatches.Count); // one per step plus the probe's two
    }

    [Fact]
    public void BatchedCfgEqualsTwoPassesAndFormula()
    {
        var (p, model) = Fakes.Pipeline();
        var batched = p.Generate("a cat runs", Fakes.Small(steps: 4, cfg: 4f));
        Assert.Equal(new[] { 2, 2, 2, 2 }, model.CallBatches);
        model.CallBatches.Clear();
        var twoPass = p.Generate("a cat runs", Fakes.Small(steps: 4, cfg: 4f) with { BatchCfg = false });
        Assert.Equal(new[] { 1, 1, 1, 1, 1, 1, 1, 1 }, model.CallBatches);
        Assert.Equal(batched.Latent.ToArray(), twoPass.Latent.ToArray());

        var enc = Fakes.Encoder();
        var z = Tensor.Randn(new Rng(4), 1, 4, 3, 4, 4);
        var cfg = new CfgVelocity(model, 4f);
        var c = enc.Encode("a cat");
        var u = enc.Encode("blurry");
        var v = cfg.Compute(z, 500f, c, u, 4f).ToArray();
        var vc = model.Forward(z, Tensor.Full(500f, 1), c).ToArray();
        var vu = model.Forward(z, Tensor.Full(500f, 1), u).ToArray();
        for (int k = 0; k < v.Length; k++) Assert.Equal(vu[k] + 4f * (vc[k] - vu[k]), v[k], 1e-5f);
    }

    [Fact]
    public void HooksCanDifferentiateThroughTheGuidedVelocity()
    {
        // A FlowMo-shaped hook: gradient of a loss on v(z) with respect to z, one descent step on z.
        var (p, _) = Fakes.Pipeline();
        int checkedSteps = 0;
        var hook = new LoggingHook("g", new(), StepWindow.Steps(0, 2))
        {
            Before = ctx =>
            {
                var z = ctx.Latent.DetachedLeaf();
                var v = ctx.Velocity(z);
                var loss = Ops.Sum(Ops.Square(v));
                var g = Autograd.Grad(loss, new[] { z })[0];
                var zs = z.ToArray();
                var vs = v.ToArray();
                var gs = g.ToArray();
                for (int k = 0; k < gs.Length; k++)
                    Assert.Equal(2 * vs[k] * FakeVelocityModel.Derivative(zs[k]), gs[k], 1e-5f);
                checkedSteps++;
                using var _ = GradMode.NoGrad();
                return new LatentUpdate(Ops.Sub(ctx.Latent, Ops.MulScalar(g, 0.05f)));
            },
        };
        var guided = p.Generate("a cat", Fakes.Small(), new[] { hook }).Latent.ToArray();
        Assert.Equal(2, checkedSteps);
        Assert.NotEqual(p.Generate("a cat", Fakes.Small()).Latent.ToArray(), guided);
    }

    [Fact]
    public void VelocityWithExplicitEmbeddingsAndSuppliedVelocity()
    {
        var (p, model) = Fakes.Pipeline();
        var enc = Fakes.Encoder();
        var other = enc.Encode("a dog jumps right");
        int calls = -1;
        var hook = new LoggingHook("e", new(), StepWindow.Steps(1, 2))
        {
            Before = ctx =>
            {
                Assert.Equal(ctx.Velocity(ctx.Latent).ToArray(), ctx.Velocity(ctx.Latent, ctx.PromptEmbeddings).ToArray());
                Assert.NotEqual(ctx.Velocity(ctx.Latent).ToArray(), ctx.Velocity(ctx.Latent, other).ToArray());
                // MotionPrompt-style: edited token embeddings through the encoder, then the model
                var emb = ctx.TextEncoder!.Embed(ctx.TextEncoder.Tokenize("a cat"));
                var edited = ctx.TextEncoder.EncodeEmbeddings(Ops.Concat(new[] { emb, ctx.TextEncoder.Embed(ctx.TextEncoder.Tokenize("authentic")) }, 1));
                Assert.Equal(ctx.PromptEmbeddings.Shape, edited.Shape);
                Assert.NotEqual(ctx.Velocity(ctx.Latent).ToArray(), ctx.Velocity(ctx.Latent, edited).ToArray());
                calls = model.CallBatches.Count;
                return new LatentUpdate(ctx.Latent, Tensor.Zeros(ctx.Latent.Shape)); // step with v = 0, no model call
            },
            After = (ctx, z) => { Assert.Equal(calls, model.CallBatches.Count); return null; },
        };
        p.Generate("a cat", Fakes.Small(steps: 3, sampler: SamplerKind.Euler), new[] { hook });
        Assert.Equal(2 + 6, model.CallBatches.Count); // 3 steps minus the skipped one, plus the hook's six velocity calls
    }

    [Fact]
    public void ProgressIsReportedEveryStep()
    {
        var (p, _) = Fakes.Pipeline();
        var progress = new SyncProgress();
        p.Generate("a cat", Fakes.Small(steps: 7), progress: progress);
        Assert.Equal(Enumerable.Range(1, 7), progress.Reports.Select(r => r.Step));
        Assert.All(progress.Reports, r => Assert.Equal(7, r.TotalSteps));
        for (int i = 1; i < 7; i++)
        {
            Assert.True(progress.Reports[i].Elapsed >= progress.Reports[i - 1].Elapsed);
            Assert.True(progress.Reports[i].Sigma < progress.Reports[i - 1].Sigma);
        }
    }

    [Fact]
    public void CancellationStopsTheLoop()
    {
        var (p, model) = Fakes.Pipeline();
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress { OnReport = r => { if (r.Step == 3) cts.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => p.Generate("a cat", Fakes.Small(steps: 10), progress: progress, cancellationToken: cts.Token));
        Assert.Equal(3, progress.Reports.Count);
        Assert.Equal(3, model.CallBatches.Count);
    }

    [Fact]
    public void KeptTensorsOutliveTheStep()
    {
        var (p, _) = Fakes.Pipeline();
        Tensor? kept = null;
        var hook = new LoggingHook("k", new())
        {
            Before = ctx =>
            {
                if (ctx.Step == 0) kept = ctx.Keep(ctx.Latent);
                else Assert.Equal(ctx.InitialLatent.ToArray(), kept!.ToArray());
                return null;
            },
        };
        p.Generate("a cat", Fakes.Small(steps: 4), new[] { hook });
        Assert.NotNull(kept);
        Assert.Equal(48 * 4, kept!.ToArray().Length);
    }
}
