using FlowGuide.Models.Video;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using FlowGuide.Training.World;
using FlowGuide.Training.World.Analysis;

namespace FlowGuide.Training.Tests;

/// <summary>The motion-world labels and the latent motion classifier's trainer on tiny sizes.</summary>
public sealed class MotionClassifierTrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-mctrain-" + Guid.NewGuid().ToString("N")[..8]);

    public MotionClassifierTrainerTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public void AClipAndTheCaptionThatDescribesItGetTheSameLabel()
    {
        var seen = new HashSet<int>();
        for (int i = 0; i < 400; i++)
        {
            var spec = MotionWorld.Sample(i, WorldSplit.Train, 17, 64, 64);
            string caption = CaptionGrammar.Describe(spec);
            int label = MotionLabels.Of(spec);
            Assert.Equal(label, MotionLabels.Of(WorldPrompt.Parse(caption)));
            Assert.Equal(MotionLabels.Names[label], MotionLabels.NameOf(caption));
            // the subject a classifier is told: the captioned shape's colour, read the same from the clip and the caption
            int subject = MotionLabels.SubjectOf(spec);
            Assert.Equal(subject, MotionLabels.SubjectOf(WorldPrompt.Parse(caption)));
            Assert.Equal((MotionLabels.Names[label], MotionLabels.Subjects[subject]), MotionLabels.TargetOf(caption));
            seen.Add(label);
        }
        Assert.Equal(24, MotionLabels.Names.Count);
        Assert.Equal(MotionLabels.Names.Count, MotionLabels.Names.Distinct().Count());
        Assert.True(seen.Count >= 20, $"only {seen.Count} of 24 classes in 400 clips");
        Assert.Equal("moves left", MotionLabels.NameOf("a red circle slowly moves left across a striped background"));
        Assert.Equal("pans up and right", MotionLabels.NameOf("the camera quickly pans up and right over a blue star on a plain black background"));
        Assert.Null(MotionLabels.NameOf("a cat walks"));
        Assert.Null(MotionLabels.TargetOf("a cat walks"));
        Assert.Equal(("pans left", "blue"), MotionLabels.TargetOf("the camera slowly pans left over a blue star on a plain black background"));
        Assert.Equal(MotionLabels.Subjects.Count, MotionLabels.Subjects.Distinct().Count());
    }

    [Fact]
    public void NoisedMixesCleanAndNoisePerItem()
    {
        var z0 = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 2, 1, 1, 1, 2);
        var eps = Tensor.FromArray(new[] { 10f, 20f, 30f, 40f }, 2, 1, 1, 1, 2);
        var zt = DitTrainer.Noised(z0, eps, new[] { 0f, 0.25f }).ToArray();
        Assert.Equal(new[] { 1f, 2f, 0.75f * 3 + 0.25f * 30, 0.75f * 4 + 0.25f * 40 }, zt);
        Assert.Throws<ArgumentException>(() => DitTrainer.Noised(z0, eps, new[] { 0f }));
    }

    private string RandomVae()
    {
        var dir = Path.Combine(_dir, "random-vae");
        new WanVae(WanVaeConfig.Tiny with { TemperalDownsample = new[] { true, true } }, new Rng(4)).Save(dir);
        return dir;
    }

    private MotionClassifierTrainingOptions Options(string name, long steps, string vae) => new()
    {
        OutputDirectory = Path.Combine(_dir, name), VaeDirectory = vae, Steps = steps, Frames = 5, Height = 16, Width = 16,
        BatchSize = 4, TrainClips = 4, LearningRate = 3e-3f, WarmupSteps = 1, CheckpointEvery = 100, ValidateEvery = 0,
        ValidationClips = 2, Seed = 3, Model = LatentMotionClassifierConfig.Tiny(4, MotionLabels.Names, MotionLabels.Subjects),
    };

    [Fact]
    public void TrainingLowersTheLossOnAFixedPoolExportsALoadableClassifierAndResumesBitExactly()
    {
        var vae = RandomVae();
        var full = MotionClassifierTrainer.Train(Options("a", 30, vae));
        Assert.True(full.Finished);
        Assert.True(full.Losses.TakeLast(5).Average() < full.Losses.Take(5).Average(),
            $"loss went from {full.Losses.Take(5).Average():F3} to {full.Losses.TakeLast(5).Average():F3}");
        var c = LatentMotionClassifier.Load(full.ExportDirectory!);
        Assert.Equal(MotionLabels.Names, c.Config.Classes);
        Assert.Equal(MotionLabels.Subjects, c.Config.SubjectNames);
        Assert.Equal(2, c.Config.Frames);                      // 5 frames through a 4x temporal VAE
        Assert.Equal(MotionWorld.Version, c.TrainingInfo?["world_version"]?.GetValue<int>());
        // per-class accuracy over the validation clips' classes, each a fraction
        var perClass = c.TrainingInfo?["class_accuracy"]?.AsObject();
        Assert.NotNull(perClass);
        Assert.NotEmpty(perClass!);
        Assert.All(perClass!, kv => { Assert.Contains(kv.Key, MotionLabels.Names); Assert.InRange(kv.Value!.GetValue<double>(), 0, 1); });

        var half = MotionClassifierTrainer.Train(Options("b", 30, vae) with { StopAfterSteps = 12 });
        Assert.False(half.Finished);
        var rest = MotionClassifierTrainer.Train(Options("b", 30, vae) with { Resume = true });
        Assert.Equal(full.Losses.Skip(12), rest.Losses);
    }

    [Fact]
    public void AClassifierForAnotherLabelSetIsRefused()
    {
        var o = Options("c", 2, RandomVae()) with { Model = LatentMotionClassifierConfig.Tiny(4, new[] { "a", "b" }) };
        Assert.Contains("classes", Assert.Throws<ArgumentException>(() => MotionClassifierTrainer.Train(o)).Message);
        var p = o with { Model = LatentMotionClassifierConfig.Tiny(4, MotionLabels.Names, new[] { "red", "blue" }) };
        Assert.Contains("subjects", Assert.Throws<ArgumentException>(() => MotionClassifierTrainer.Train(p)).Message);
    }

    [Fact]
    public void EvaluateTalliesEveryClipAtEveryNoiseLevelByClass()
    {
        var vae = RandomVae();
        var o = Options("e", 1, vae) with { ValidationClips = 6 };
        var latents = new LatentCache(VideoAutoencoders.LoadFrozen(vae), o, vae, null);
        var model = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(4, MotionLabels.Names, MotionLabels.Subjects) with { Frames = 2 }, new Rng(8));
        var v = MotionClassifierTrainer.Evaluate(model, latents, o);
        Assert.Equal(MotionClassifierTrainer.Validate(model, latents, o), v.Accuracy);
        Assert.Equal(6 * o.ValidationTimesteps.Length, v.ClassCount.Sum());
        Assert.Equal(v.Accuracy.Sum() * 6, v.ClassCorrect.Sum(), 6);
        for (int i = 0; i < 6; i++)
            Assert.True(v.ClassCount[MotionLabels.Of(MotionWorld.Sample(i, WorldSplit.Validation, o.Frames, o.Width, o.Height))] > 0);
        int unseen = Array.IndexOf(v.ClassCount, 0);
        if (unseen >= 0) Assert.True(double.IsNaN(v.ClassAccuracy(unseen)));
    }

    [Fact]
    public void AnUnconditionalClassifierTrainsAndExportsWithoutSubjects()
    {
        var r = MotionClassifierTrainer.Train(Options("u", 3, RandomVae()) with { Model = LatentMotionClassifierConfig.Tiny(4, MotionLabels.Names) });
        Assert.True(r.Finished);
        var c = LatentMotionClassifier.Load(r.ExportDirectory!);
        Assert.False(c.Config.Conditional);
        Assert.Null(c.Film);
    }
}
