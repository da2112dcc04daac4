using FlowGuide.Models;
using FlowGuide.Models.Video;
using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Nn;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training.Tests;

/// <summary>VAE and DiT trainers on tiny configs: the loss on a fixed batch drops, and a resumed run is bit-identical to an uninterrupted one.</summary>
public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-train-" + Guid.NewGuid().ToString("N")[..8]);

    public TrainerTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static readonly WanVaeConfig TinyVae = WanVaeConfig.Tiny with { TemperalDownsample = new[] { true, true } };
    private static readonly WordTextEncoderConfig TinyText = WordTextEncoderConfig.Tiny with { MaxLength = 32 };

    private VaeTrainingOptions Vae(string name, long steps) => new()
    {
        OutputDirectory = Path.Combine(_dir, name), Model = TinyVae, Compact = CompactVaeConfig.Tiny, Steps = steps, Frames = 5, Height = 16, Width = 16,
        LearningRate = 3e-3f, WarmupSteps = 1, CheckpointEvery = 100, ValidateEvery = 0, ValidationClips = 1, StatsClips = 2,
        KlWeight = 1e-4f, Seed = 5,
    };

    private DitTrainingOptions Dit(string name, long steps, string vaeDir) => new()
    {
        OutputDirectory = Path.Combine(_dir, name), VaeDirectory = vaeDir, Model = WanTransformerConfig.Tiny, TextEncoder = TinyText,
        Steps = steps, Frames = 5, Height = 16, Width = 16, LearningRate = 3e-3f, WarmupSteps = 1, CheckpointEvery = 100,
        ValidateEvery = 0, ValidationClips = 1, Seed = 9, BatchSize = 2,
    };

    private string RandomVae()
    {
        var dir = Path.Combine(_dir, "random-vae");
        new WanVae(TinyVae, new Rng(4)).Save(dir);
        return dir;
    }

    private static Tensor Clip(long index) =>
        VaeTrainer.Batch(MotionWorld.Generate(index, WorldSplit.Train, 5, 16, 16).Video);

    private static double ReconMse(IVideoAutoencoder vae, Tensor x)
    {
        using var _ = GradMode.NoGrad();
        return Ops.Sub(vae.Decode(vae.Encode(x)), x).Square().Mean().Item();
    }

    [Theory]
    [InlineData(VaeArchitecture.Compact)]
    [InlineData(VaeArchitecture.Wan)]
    public void VaeTrainingReducesReconstructionErrorOnAFixedClip(VaeArchitecture arch)
    {
        var o = Vae("vae-fit-" + arch, 25) with { TrainClips = 1, Architecture = arch };
        var r = VaeTrainer.Train(o);
        Assert.True(r.Finished);
        IVideoAutoencoder before = arch == VaeArchitecture.Wan ? new WanVae(TinyVae, new Rng(o.Seed)) : new CompactVae(CompactVaeConfig.Tiny, new Rng(o.Seed));
        Module after = arch == VaeArchitecture.Wan ? new WanVae(TinyVae, new Rng(0)) : new CompactVae(CompactVaeConfig.Tiny, new Rng(0));
        after.LoadSafeTensors(Path.Combine(o.OutputDirectory, "checkpoint", "model.safetensors"));
        var x = Clip(0);
        double b = ReconMse(before, x), a = ReconMse((IVideoAutoencoder)after, x);
        Assert.True(a < 0.5 * b, $"reconstruction MSE {b} -> {a}");
        // the export carries fitted latent statistics and loads, by its class name, as the same kind of VAE
        var exported = VideoAutoencoders.Load(r.ExportDirectory!);
        Assert.Equal(after.GetType(), exported.GetType());
        double std0 = exported is WanVae w ? w.Config.LatentsStd[0] : ((CompactVae)exported).Config.LatentsStd[0];
        Assert.NotEqual(1.0, std0);
        Assert.True(double.IsFinite(r.Validation));
    }

    [Fact]
    public void VaeResumeIsBitExact()
    {
        var full = VaeTrainer.Train(Vae("vae-a", 4));
        var half = VaeTrainer.Train(Vae("vae-b", 4) with { StopAfterSteps = 2 });
        Assert.False(half.Finished);
        Assert.Equal(2, half.Step);
        Assert.Throws<IOException>(() => VaeTrainer.Train(Vae("vae-b", 4)));   // no silent overwrite without --resume
        var rest = VaeTrainer.Train(Vae("vae-b", 4) with { Resume = true });
        Assert.Equal(4, rest.Step);
        Assert.Equal(full.Losses.Skip(2), rest.Losses);
        foreach (var f in new[] { "model.safetensors", "optimizer.safetensors", "ema.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "vae-a", "checkpoint", f)), File.ReadAllBytes(Path.Combine(_dir, "vae-b", "checkpoint", f)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "vae-a", "vae", WanVae.WeightsFileName)),
            File.ReadAllBytes(Path.Combine(_dir, "vae-b", "vae", WanVae.WeightsFileName)));
    }

    [Fact]
    public void VaeInitStartsFromAnExportedVaeAndRefusesAnotherArchitecture()
    {
        var first = VaeTrainer.Train(Vae("vae-init-a", 3));
        var want = ((Module)VideoAutoencoders.Load(first.ExportDirectory!)).StateDict();
        var o = Vae("vae-init-b", 1) with { InitDirectory = first.ExportDirectory };
        var fresh = TrainableVae.Create(o, new Rng(o.Seed));
        var random = fresh.Module.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Span.ToArray());
        VaeTrainer.InitialiseFrom(fresh, first.ExportDirectory!);
        foreach (var (name, t) in fresh.Module.StateDict()) Assert.Equal(want[name].Span.ToArray(), t.Span.ToArray());
        Assert.Contains(random, kv => !kv.Value.SequenceEqual(want[kv.Key].Span.ToArray())); // it did change the weights
        // the trainer takes it: one step from the exported weights moves them only a little
        var r = VaeTrainer.Train(o);
        Assert.True(r.Finished);
        var ex = Assert.Throws<ArgumentException>(() => VaeTrainer.Train(Vae("vae-init-c", 1) with { InitDirectory = first.ExportDirectory, Architecture = VaeArchitecture.Wan }));
        Assert.Contains("--init", ex.Message);
    }

    [Fact]
    public void FreezeEncoderTrainsTheDecoderOnlyAndKeepsTheInitsLatentStatistics()
    {
        var first = VaeTrainer.Train(Vae("vae-fe-a", 3));
        var init = (CompactVae)VideoAutoencoders.Load(first.ExportDirectory!);
        var o = Vae("vae-fe-b", 3) with { InitDirectory = first.ExportDirectory, FreezeEncoder = true, TemporalWeight = 1 };
        var r = VaeTrainer.Train(o);
        var after = (CompactVae)VideoAutoencoders.Load(r.ExportDirectory!);
        foreach (var (name, t) in init.Encoder.NamedParameters())
            Assert.Equal(t.Span.ToArray(), after.Encoder.NamedParameters().First(p => p.Key == name).Value.Span.ToArray());
        Assert.Contains(init.Decoder.NamedParameters(), kv => !kv.Value.Span.ToArray().SequenceEqual(after.Decoder.NamedParameters().First(p => p.Key == kv.Key).Value.Span.ToArray()));
        Assert.Equal(init.Config.LatentsMean, after.Config.LatentsMean);
        Assert.Equal(init.Config.LatentsStd, after.Config.LatentsStd);
    }

    [Fact]
    public void TemporalDifferenceLossIgnoresConstantErrorsAndCountsSmearing()
    {
        var video = Tensor.Randn(new Rng(3), 1, 3, 4, 5, 5);
        // the same error in every frame: no change error
        var offset = Tensor.Randn(new Rng(4), 1, 3, 1, 5, 5);
        Assert.Equal(0.0, VaeTrainer.TemporalDifferenceLoss(video.Add(offset), video).Item(), 6);
        // an error only in frame 2 of 4 (a smear): it enters two differences, (e - 0)^2 and (0 - e)^2
        var smear = video.Clone();
        for (int i = 0; i < 25; i++) smear.Span[(0 * 4 + 2) * 25 + i] += 1f; // channel 0, frame 2
        Assert.Equal(2.0 * 25 / (3 * 3 * 25), VaeTrainer.TemporalDifferenceLoss(smear, video).Item(), 5);
        // gradient against finite differences
        var recon = Tensor.Randn(new Rng(5), 1, 2, 3, 2, 2);
        var target = Tensor.Randn(new Rng(6), 1, 2, 3, 2, 2);
        var leaf = recon.DetachedLeaf();
        var g = Autograd.Grad(VaeTrainer.TemporalDifferenceLoss(leaf, target), new[] { leaf })[0];
        for (int i = 0; i < recon.Numel; i++)
        {
            float old = recon.Span[i];
            recon.Span[i] = old + 1e-2f; double lp = VaeTrainer.TemporalDifferenceLoss(recon, target).Item();
            recon.Span[i] = old - 1e-2f; double lm = VaeTrainer.TemporalDifferenceLoss(recon, target).Item();
            recon.Span[i] = old;
            Assert.Equal((lp - lm) / 2e-2, g.Span[i], 3);
        }
        Assert.Throws<ArgumentException>(() => VaeTrainer.TemporalDifferenceLoss(Tensor.Zeros(1, 3, 1, 2, 2), Tensor.Zeros(1, 3, 1, 2, 2)));
        Assert.Throws<ArgumentException>(() => Vae("vae-tw", 1) with { TemporalWeight = -1 } is var o ? VaeTrainer.Train(o) : null);
    }

    [Fact]
    public void DitTrainingReducesFlowLossOnAFixedBatch()
    {
        var o = Dit("dit-fit", 30, RandomVae()) with { TrainClips = 1, CaptionDropout = 0 };
        var r = DitTrainer.Train(o);
        Assert.True(r.Finished);
        var before = new DitTrainingModule(o.Model, o.TextEncoder, new Rng(o.Seed));
        var after = new DitTrainingModule(o.Model, o.TextEncoder, new Rng(0));
        after.LoadSafeTensors(Path.Combine(o.OutputDirectory, "checkpoint", "model.safetensors"));
        var vae = WanVae.Load(o.VaeDirectory);
        var cache = new LatentCache(vae, o);
        var z0 = cache.Get(0, WorldSplit.Train);
        var eps = Tensor.Randn(new Rng(77), z0.Shape.ToArray());
        double Loss(DitTrainingModule m)
        {
            using var _ = GradMode.NoGrad();
            var ctx = m.TextEncoder.Encode(cache.Caption(0, WorldSplit.Train));
            return new[] { 0.3f, 0.5f, 0.7f }.Average(t => DitTrainer.FlowLoss(m.Transformer, z0, eps, new[] { t }, ctx).Item());
        }
        double b = Loss(before), a = Loss(after);
        Assert.True(a < 0.8 * b, $"flow loss {b} -> {a}");
        // the export is a complete model folder that generates
        var model = ShippedModel.Load(r.ExportDirectory!);
        var video = model.Pipeline.Generate(cache.Caption(0, WorldSplit.Train), model.Defaults.ToOptions(1) with { Steps = 2 }).Video;
        Assert.Equal(new[] { 1, 3, 5, 16, 16 }, video.Shape.ToArray());
    }

    [Fact]
    public void DitResumeIsBitExact()
    {
        var vae = RandomVae();
        var full = DitTrainer.Train(Dit("dit-a", 4, vae));
        var half = DitTrainer.Train(Dit("dit-b", 4, vae) with { StopAfterSteps = 2 });
        var rest = DitTrainer.Train(Dit("dit-b", 4, vae) with { Resume = true });
        Assert.Equal(2, half.Step);
        Assert.Equal(full.Losses.Skip(2), rest.Losses);
        foreach (var f in new[] { "model.safetensors", "optimizer.safetensors", "ema.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "dit-a", "checkpoint", f)), File.ReadAllBytes(Path.Combine(_dir, "dit-b", "checkpoint", f)));
    }

    [Fact]
    public void TemporalWeightAddsTheFrameVaryingPartOfTheErrorAndItsGradientMatchesFiniteDifferences()
    {
        var model = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(21));
        var rng = new Rng(22);
        var z0 = Tensor.Randn(rng, 2, 4, 3, 4, 4);
        var eps = Tensor.Randn(rng, 2, 4, 3, 4, 4);
        var ctx = Tensor.Randn(rng, 2, 5, WanTransformerConfig.Tiny.TextDim);
        float[] t = { 0.3f, 0.8f };
        double Loss(float w)
        {
            using var _ = GradMode.NoGrad();
            return DitTrainer.FlowLoss(model, z0, eps, t, ctx, w).Item();
        }
        // by hand: e = v - (eps - z0) over [B, C, F, H, W]; the frame-varying part removes each (b, c, h, w)'s mean over F
        double plain = Loss(0), moving;
        using (GradMode.NoGrad())
        {
            var zt = Ops.Add(Ops.Mul(z0, Tensor.FromArray(new[] { 0.7f, 0.2f }, 2, 1, 1, 1, 1)), Ops.Mul(eps, Tensor.FromArray(t, 2, 1, 1, 1, 1)));
            var v = model.Forward(zt, Tensor.FromArray(new[] { 300f, 800f }, 2), ctx).ToArray();
            var target = Ops.Sub(eps, z0).ToArray();
            double sum = 0;
            const int frames = 3, plane = 16;
            for (int bc = 0; bc < 8; bc++)
                for (int p = 0; p < plane; p++)
                {
                    double mean = 0;
                    for (int f = 0; f < frames; f++) mean += v[(bc * frames + f) * plane + p] - target[(bc * frames + f) * plane + p];
                    mean /= frames;
                    for (int f = 0; f < frames; f++)
                    {
                        double d = v[(bc * frames + f) * plane + p] - target[(bc * frames + f) * plane + p] - mean;
                        sum += d * d;
                    }
                }
            moving = sum / v.Length;
        }
        Assert.True(moving > 0);
        Assert.Equal(plain + 2.5 * moving, Loss(2.5f), 4);

        // gradient in a parameter, against central differences
        var bias = model.PatchEmbedding.Bias!;
        var g = Autograd.Grad(DitTrainer.FlowLoss(model, z0, eps, t, ctx, 2.5f), new[] { bias })[0].ToArray();
        foreach (int i in new[] { 0, 7, bias.Numel - 1 })
        {
            float keep = bias.Span[i];
            const float h = 1e-2f;
            bias.Span[i] = keep + h;
            double up = Loss(2.5f);
            bias.Span[i] = keep - h;
            double down = Loss(2.5f);
            bias.Span[i] = keep;
            double numeric = (up - down) / (2 * h);
            Assert.True(Math.Abs(numeric - g[i]) <= 2e-2 * Math.Abs(numeric) + 1e-4, $"bias {i}: autograd {g[i]}, finite difference {numeric}");
        }
        var bad = Assert.Throws<ArgumentException>(() => DitTrainer.Train(Dit("tw", 1, "vae") with { TemporalWeight = -1 }));
        Assert.Contains("temporal weight", bad.Message);
    }

    [Fact]
    public void LatentCacheFoldersNameTheWorldVersion()
    {
        // a cache of clips an older world rendered must not be reused: world 1's folders had no suffix
        Assert.Equal($"ABC-5x16x16-world{MotionWorld.Version}", LatentCache.CacheFolderName("ABC", Dit("c", 1, "vae")));
        Assert.True(MotionWorld.Version >= 2);
    }

    [Fact]
    public void InitAddsAZeroPositionEmbeddingToAModelWithoutOne()
    {
        var vae = RandomVae();
        var plain = DitTrainer.Train(Dit("dit-pe-a", 2, vae));
        var withPositions = WanTransformerConfig.Tiny with { PositionFrequencies = 2 };
        var module = new DitTrainingModule(withPositions, TinyText, new Rng(1));
        new Rng(2).FillNormal(module.Transformer.PositionEmbedding!.Weight.Span);
        DitTrainer.InitialiseFrom(module, plain.ExportDirectory!);
        var source = ShippedModel.Load(plain.ExportDirectory!).Transformer.StateDict();
        foreach (var (name, value) in module.Transformer.StateDict())
            if (name.StartsWith(WanTransformer3D.PositionEmbeddingName, StringComparison.Ordinal))
                Assert.True(value.Span.ToArray().All(v => v == 0), name);
            else
                Assert.Equal(source[name].Span.ToArray(), value.Span.ToArray());

        // the run trains on: the embedding moves away from zero
        var o = Dit("dit-pe-b", 3, vae) with { Model = withPositions, InitDirectory = plain.ExportDirectory };
        var run = DitTrainer.Train(o);
        var trained = ShippedModel.Load(run.ExportDirectory!).Transformer;
        Assert.Equal(withPositions, trained.Config);
        Assert.Contains(trained.PositionEmbedding!.Weight.Span.ToArray(), v => v != 0);

        // the other way, or any other difference, is refused
        var back = Assert.Throws<ArgumentException>(() => DitTrainer.InitialiseFrom(new DitTrainingModule(WanTransformerConfig.Tiny, TinyText, new Rng(1)), run.ExportDirectory!));
        Assert.Contains("position embedding", back.Message);
        var deeper = WanTransformerConfig.Tiny with { PositionFrequencies = 2, NumLayers = 3 };
        Assert.Throws<ArgumentException>(() => DitTrainer.InitialiseFrom(new DitTrainingModule(deeper, TinyText, new Rng(1)), plain.ExportDirectory!));
    }

    [Fact]
    public void ExportCheckpointWritesTheEmaWeightsTheFinalExportWrites()
    {
        var vae = RandomVae();
        var missing = Assert.Throws<FileNotFoundException>(() => DitTrainer.ExportCheckpoint(Dit("dit-e", 3, vae)));
        Assert.Contains("holds no checkpoint", missing.Message);
        var run = DitTrainer.Train(Dit("dit-e", 3, vae));
        var checkpointBytes = Directory.GetFiles(Path.Combine(_dir, "dit-e", "checkpoint")).ToDictionary(f => f, File.ReadAllBytes);
        var folder = DitTrainer.ExportCheckpoint(Dit("dit-e", 3, vae));
        Assert.Equal(Path.Combine(_dir, "dit-e", "model-step3"), folder);
        // the same weights as the run's own export at its last step, and the checkpoint untouched
        foreach (var part in new[] { "transformer", "text_encoder" })
        {
            var a = Directory.GetFiles(Path.Combine(run.ExportDirectory!, part)).OrderBy(f => f).Select(File.ReadAllBytes).ToList();
            var b = Directory.GetFiles(Path.Combine(folder, part)).OrderBy(f => f).Select(File.ReadAllBytes).ToList();
            Assert.Equal(a, b);
        }
        foreach (var (f, bytes) in checkpointBytes) Assert.Equal(bytes, File.ReadAllBytes(f));
        Assert.NotNull(ShippedModel.Load(folder));
    }

    [Fact]
    public void TrainingNoiseLevelsFollowTheirLogitNormalSettings()
    {
        var o = Dit("t", 1, "vae");
        var a = new Rng(7);
        var b = new Rng(7);
        // the defaults draw exactly what the trainer drew before the setting existed: sigmoid(n)
        for (int i = 0; i < 100; i++) Assert.Equal(1f / (1f + MathF.Exp(-b.Normal())), DitTrainer.SampleTimestep(o, a));
        var r = new Rng(8);
        double high = Enumerable.Range(0, 4000).Average(_ => DitTrainer.SampleTimestep(o with { TimestepMean = 2f }, r));
        Assert.InRange(high, 0.8, 0.9);   // E[sigmoid(2 + n)] is about 0.84
        double narrow = Enumerable.Range(0, 4000).Select(_ => (double)DitTrainer.SampleTimestep(o with { TimestepStd = 0.1f }, r)).Max();
        Assert.InRange(narrow, 0.5, 0.6);
        Assert.Contains("positive finite std", Assert.Throws<ArgumentException>(() => (o with { TimestepStd = 0 }).Validate()).Message);
        Assert.Contains("finite mean", Assert.Throws<ArgumentException>(() => (o with { TimestepMean = float.NaN }).Validate()).Message);
    }
}
