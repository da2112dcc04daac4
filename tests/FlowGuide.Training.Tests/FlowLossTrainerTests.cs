using FlowGuide.Models;
using FlowGuide.Models.Flow;
using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using FlowGuide.Training.World;
using Xunit.Abstractions;

namespace FlowGuide.Training.Tests;

/// <summary>FlowLoss inside the DiT trainer on tiny configs: gradients reach the transformer through the decoder, runs resume bit-exactly, the CSV log.</summary>
public sealed class FlowLossTrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-flowloss-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ITestOutputHelper _out;

    public FlowLossTrainerTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    internal static readonly WanVaeConfig TinyVae = WanVaeConfig.Tiny with { TemperalDownsample = new[] { true, true } };
    internal static readonly WordTextEncoderConfig TinyText = WordTextEncoderConfig.Tiny with { MaxLength = 32 };

    internal static string RandomVae(string dir)
    {
        var path = Path.Combine(dir, "random-vae");
        new WanVae(TinyVae, new Rng(4)).Save(path);
        return path;
    }

    internal static DitTrainingOptions Dit(string outDir, long steps, string vaeDir) => new()
    {
        OutputDirectory = outDir, VaeDirectory = vaeDir, Model = WanTransformerConfig.Tiny, TextEncoder = TinyText,
        Steps = steps, Frames = 5, Height = 16, Width = 16, LearningRate = 3e-3f, WarmupSteps = 1, CheckpointEvery = 100,
        ValidateEvery = 0, ValidationClips = 1, Seed = 9, BatchSize = 2,
    };

    internal static readonly FlowValidationOptions TinyValidation = new()
    {
        Clips = 1, Timesteps = new[] { 0.3 }, SampleSteps = 2, Estimator = FlowLossTests.TinyEstimator,
    };

    /// <summary>
    /// The flow term alone (total minus the plain flow-matching loss) differentiated by autograd with respect to
    /// transformer weights, against central finite differences, through VAE decode and the unrolled TV-L1 estimator.
    /// </summary>
    [Fact]
    public void FlowTermGradientReachesTransformerParameters()
    {
        var vae = new WanVae(TinyVae, new Rng(4));
        vae.Freeze();
        vae.Eval();
        var model = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(9));
        Tensor z0;
        using (GradMode.NoGrad())
            z0 = Ops.Concat(new[] { 0L, 5L }.Select(i => vae.Encode(MotionWorld.Generate(i, WorldSplit.Train, 5, 16, 16).Video.Reshape(1, 3, 5, 16, 16))).ToList(), 0);
        var eps = Tensor.Randn(new Rng(21), z0.Shape.ToArray());
        var ctx = Tensor.Randn(new Rng(22), 2, 6, WanTransformerConfig.Tiny.TextDim);
        var t = new[] { 0.15f, 0.3f };
        var loss = new FlowLoss(new FlowLossOptions { Psi = 10, Scale = 1, Target = FlowTargetSource.World, Estimator = FlowLossTests.TinyEstimator });
        var targets = new WorldFlowTargets(loss, 5, 16, 16);
        FlowTarget Targets(int[] rows) => targets.Get(rows.Select(r => r == 0 ? 0L : 5L).ToArray(), WorldSplit.Train);

        var named = model.NamedParameters().ToDictionary(p => p.Key, p => p.Value);
        var chosen = new[] { "proj_out.weight", named.Keys.First(k => k.StartsWith("blocks.0.attn1.", StringComparison.Ordinal) && k.EndsWith(".weight", StringComparison.Ordinal)) };
        var ps = chosen.Select(k => named[k]).ToArray();
        var r0 = DitFlowLoss.Compute(model, vae, loss, z0, eps, t, ctx, Targets);
        Assert.Equal(new[] { 0, 1 }, r0.Passed);
        Assert.True(r0.FlowTerm > 0);
        var gTotal = Autograd.Grad(r0.Loss, ps);
        var gFm = Autograd.Grad(DitTrainer.FlowLoss(model, z0, eps, t, ctx), ps);

        double FlowTerm()
        {
            using var _ = GradMode.NoGrad();
            using var scope = new TensorScope();
            return DitFlowLoss.Compute(model, vae, loss, z0, eps, t, ctx, Targets).FlowTerm;
        }

        double l0 = FlowTerm();
        for (int k = 0; k < ps.Length; k++)
        {
            var g = gTotal[k].Sub(gFm[k]).ToArray();                                  // gradient of the flow term alone
            var order = Enumerable.Range(0, g.Length).OrderByDescending(i => Math.Abs(g[i])).Take(2).ToArray();
            Assert.True(Math.Abs(g[order[0]]) > 1e-4, $"{chosen[k]}: the flow term's gradient is {g[order[0]]}");
            foreach (int i in order)
            {
                const float h = 2e-3f;
                float orig = ps[k].Span[i];
                ps[k].Span[i] = orig + h;
                double lp = FlowTerm();
                ps[k].Span[i] = orig - h;
                double lm = FlowTerm();
                ps[k].Span[i] = orig;
                // the unrolled solver is piecewise smooth: compare with the closest of central, right and left differences
                double central = (lp - lm) / (2 * h), right = (lp - l0) / h, left = (l0 - lm) / h;
                double err = new[] { central, right, left }.Min(d => Math.Abs(d - g[i]));
                _out.WriteLine($"{chosen[k]}[{i}]: autograd {g[i]:G6}, central {central:G6}, right {right:G6}, left {left:G6} (flow term {l0:G6})");
                Assert.True(err <= 0.05 * Math.Abs(g[i]) + 1e-4, $"{chosen[k]}[{i}]: autograd {g[i]}, finite differences {central} (right {right}, left {left})");
            }
        }
    }

    /// <summary>Counts decodes and passes them on.</summary>
    private sealed class CountingDecoder(IVideoDecoder inner) : IVideoDecoder
    {
        public int Calls;
        public int LatentChannels => inner.LatentChannels;
        public int TemporalFactor => inner.TemporalFactor;
        public int SpatialFactor => inner.SpatialFactor;

        public Tensor Decode(Tensor latent)
        {
            Calls++;
            return inner.Decode(latent);
        }
    }

    [Fact]
    public void GatedTrainingStepDecodesAndEstimatesOnlyPassingSamples()
    {
        var vae = new WanVae(TinyVae, new Rng(4));
        vae.Freeze();
        var decoder = new CountingDecoder(vae);
        var model = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(9));
        var z0 = Tensor.Randn(new Rng(41), 3, 4, 2, 4, 4);
        var eps = Tensor.Randn(new Rng(42), 3, 4, 2, 4, 4);
        var ctx = Tensor.Randn(new Rng(43), 3, 6, WanTransformerConfig.Tiny.TextDim);
        int estimates = 0, pairs = 0;
        var classical = new ClassicalFlow(FlowLossTests.TinyEstimator);
        var loss = new FlowLoss(new FlowLossOptions { Psi = 0.5, Estimator = FlowLossTests.TinyEstimator },
            (a, b) => { estimates++; pairs += a.Size(0); return classical.Estimate(a, b); });
        var targets = new WorldFlowTargets(loss, 5, 16, 16);
        FlowTarget Targets(int[] rows) => targets.Get(rows.Select(r => (long)r).ToArray(), WorldSplit.Train);

        // sigma = 1, 4, 1.5: nothing passes psi = 0.5 -> no decode, no flow, no target, the plain flow-matching loss
        var none = DitFlowLoss.Compute(model, decoder, loss, z0, eps, new[] { 0.5f, 0.8f, 0.6f }, ctx, Targets);
        Assert.Equal((0, 0, 0L), (decoder.Calls, estimates, targets.Computed));
        Assert.Equal(DitTrainer.FlowLoss(model, z0, eps, new[] { 0.5f, 0.8f, 0.6f }, ctx).Item(), none.Loss.Item(), 5);

        // sigma = 1, 0.25, 1.5: only sample 1 passes -> one decode of one video, its 4 frame pairs estimated once (checkpointed: once more in backward)
        var one = DitFlowLoss.Compute(model, decoder, loss, z0, eps, new[] { 0.5f, 0.2f, 0.6f }, ctx, Targets);
        Assert.Equal(new[] { 1 }, one.Passed);
        Assert.Equal(1, decoder.Calls);
        Assert.Equal(1L, targets.Computed);
        Assert.Equal((2, 8), (estimates, pairs));                                // the target's flows (no gradient) and the prediction's
        one.Loss.Backward();
        Assert.Equal((2, 3, 12), (decoder.Calls, estimates, pairs));              // the checkpointed segments recompute once each in backward
    }

    [Fact]
    public void CheckpointedSegmentsGiveTheSameLossAndGradients()
    {
        var vae = new WanVae(TinyVae, new Rng(4));
        vae.Freeze();
        vae.Eval();
        var model = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(9));
        Tensor z0;
        using (GradMode.NoGrad())
            z0 = vae.Encode(MotionWorld.Generate(1, WorldSplit.Train, 5, 16, 16).Video.Reshape(1, 3, 5, 16, 16));
        var eps = Tensor.Randn(new Rng(31), z0.Shape.ToArray());
        var ctx = Tensor.Randn(new Rng(32), 1, 6, WanTransformerConfig.Tiny.TextDim);
        var ps = model.Parameters().ToArray();
        (float Loss, float[][] Grads) Run(bool checkpoint)
        {
            var loss = new FlowLoss(new FlowLossOptions { Psi = 10, Scale = 1, Estimator = FlowLossTests.TinyEstimator, CheckpointSegments = checkpoint });
            var targets = new WorldFlowTargets(loss, 5, 16, 16);
            var r = DitFlowLoss.Compute(model, vae, loss, z0, eps, new[] { 0.2f }, ctx, rows => targets.Get(new[] { 1L }, WorldSplit.Train));
            return (r.Loss.Item(), Autograd.Grad(r.Loss, ps).Select(g => g.ToArray()).ToArray());
        }
        var a = Run(true);
        var b = Run(false);
        Assert.Equal(b.Loss, a.Loss, 4);
        for (int k = 0; k < ps.Length; k++)
            for (int i = 0; i < a.Grads[k].Length; i++)
                Assert.True(Math.Abs(a.Grads[k][i] - b.Grads[k][i]) <= 1e-3 * (1 + Math.Abs(b.Grads[k][i])), $"parameter {k}[{i}]: {a.Grads[k][i]} vs {b.Grads[k][i]}");
    }

    private static Dictionary<string, double>[] Csv(string runDir) => TrainingCsvLog.Read(Path.Combine(runDir, DitTrainer.CsvLogFile)).ToArray();

    [Fact]
    public void ResumeWithFlowLossIsBitExactAndTheLogReadsAsOneRun()
    {
        var vae = RandomVae(_dir);
        var flow = new FlowLossOptions { Psi = 100, Scale = 1e-3, Occlusion = OcclusionSource.ForwardBackward, Estimator = FlowLossTests.TinyEstimator };
        DitTrainingOptions Opt(string name) => Dit(Path.Combine(_dir, name), 4, vae) with { FlowLoss = flow, FlowValidation = TinyValidation, ValidateEvery = 2 };
        var full = DitTrainer.Train(Opt("a"));
        var half = DitTrainer.Train(Opt("b") with { StopAfterSteps = 3 });
        Assert.Equal(3, half.Step);
        // a session that ran past its checkpoint: its extra row must disappear on resume
        File.AppendAllText(Path.Combine(_dir, "b", DitTrainer.CsvLogFile), "4" + string.Concat(DitTrainer.CsvColumns.Select(_ => ",1")) + "\n5,torn");
        var rest = DitTrainer.Train(Opt("b") with { Resume = true });
        Assert.Equal(full.Losses.Skip(3), rest.Losses);
        foreach (var f in new[] { "model.safetensors", "optimizer.safetensors", "ema.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a", "checkpoint", f)), File.ReadAllBytes(Path.Combine(_dir, "b", "checkpoint", f)));

        var a = Csv(Path.Combine(_dir, "a"));
        var b = Csv(Path.Combine(_dir, "b"));
        Assert.Equal(new double[] { 1, 2, 3, 4 }, a.Select(r => r["step"]));
        Assert.Equal(new double[] { 1, 2, 3, 4 }, b.Select(r => r["step"]));
        foreach (var col in DitTrainer.CsvColumns.Where(c => !c.EndsWith("_s", StringComparison.Ordinal)))
            for (int i = 0; i < 4; i++)
                Assert.Equal(a[i].GetValueOrDefault(col, double.NaN), b[i].GetValueOrDefault(col, double.NaN));
        foreach (var r in a)
        {
            Assert.Equal(2, r["flow_samples"]);                                       // psi 100 lets every sample through
            Assert.True(r["flow_loss"] > 0 && r["fm_loss"] > 0 && double.IsFinite(r["flow_epe"]));
            Assert.Equal(r["loss"], r["fm_loss"] + r["flow_loss"], 4);
            Assert.True(r["step_s"] > 0);
        }
        Assert.True(b[3]["train_s"] >= b[2]["train_s"] + b[3]["step_s"] - 1e-9, "cumulative time continues across the resume");
        foreach (var i in new[] { 1, 3 })
        {
            foreach (var col in new[] { "val_loss", "val_pred_epe", "val_pred_world_epe", "val_sample_epe", "val_sample_motion", "val_s" })
                Assert.True(a[i][col] > 0, col);
            Assert.InRange(a[i]["val_sample_flicker"], 0, 1);
        }
        Assert.False(a[0].ContainsKey("val_pred_epe"));
    }

    [Fact]
    public void FlowRunsSeeTheSameDataAndNoiseAsThePlainRun()
    {
        var vae = RandomVae(_dir);
        var plain = DitTrainer.Train(Dit(Path.Combine(_dir, "plain"), 2, vae));
        var gated = DitTrainer.Train(Dit(Path.Combine(_dir, "gated"), 2, vae) with
        {
            FlowLoss = new FlowLossOptions { Psi = 100, Scale = 1, Target = FlowTargetSource.World, Estimator = FlowLossTests.TinyEstimator },
        });
        var p = Csv(Path.Combine(_dir, "plain"));
        var g = Csv(Path.Combine(_dir, "gated"));
        // step 1 starts from the same weights with the same clips, t and eps: the flow-matching part agrees
        Assert.Equal(plain.Losses[0], g[0]["fm_loss"], 5);
        Assert.Equal(p[0]["loss"], plain.Losses[0]);
        Assert.Equal(0, p[0]["flow_samples"]);
        Assert.False(p[0].ContainsKey("flow_epe"));
        // the flow term changed the update, so step 2 differs
        Assert.NotEqual(plain.Losses[1], gated.Losses[1]);
    }
}
