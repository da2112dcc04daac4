using System.Text.Json.Nodes;
using FlowGuide.Models.Flow;
using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using FlowGuide.Training.Discriminator;
using FlowGuide.Training.World;

namespace FlowGuide.Training.Tests.Discriminator;

/// <summary>
/// <see cref="DiscriminatorTrainer"/> end to end on a tiny random model folder (5 frames of 16x16): weights, card,
/// recorded flow settings, determinism and the on-disk caches.
/// </summary>
public sealed class DiscriminatorTrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-dtrain-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private ShippedModel TinyModel()
    {
        var path = Path.Combine(_dir, "model");
        var text = new WordTextEncoder(WordTextEncoderConfig.Tiny with { MaxLength = 40 }, new Vocabulary(CaptionGrammar.Vocabulary), new Rng(1));
        var vae = new WanVae(WanVaeConfig.Tiny with { TemperalDownsample = new[] { true, true } }, new Rng(2));
        var dit = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(3));
        ShippedModel.Save(path, dit, vae, text, new ModelDefaults { Frames = 5, Height = 16, Width = 16, Steps = 2 });
        return ShippedModel.Load(path);
    }

    private DiscriminatorTrainingOptions Options(string name) => new()
    {
        OutputDirectory = Path.Combine(_dir, name),
        CacheDirectory = Path.Combine(_dir, "cache"),
        RealVideos = 5,
        FakeVideos = 5,
        PairsPerVideo = 2,
        Epochs = 3,
        BatchSize = 4,
        Model = FlowDiscriminatorConfig.Tiny,
        Flow = ClassicalFlowOptions.Default with { Levels = 2, Warps = 1, Iterations = 4, FinestIterations = null },
    };

    [Fact]
    public void TrainsWritesWeightsAndCardAndRerunsFromTheCache()
    {
        var model = TinyModel();
        var log = new List<string>();
        var r = DiscriminatorTrainer.Train(Options("a"), model, log.Add);

        // 1. what ran: 3 epochs over 8 + 8 training flows (4 videos x 2 pairs each class), 1 + 1 videos held out
        Assert.Equal(3, r.Epochs.Count);
        Assert.Equal(16, r.TrainFlows);
        Assert.Equal(4, r.ValidationFlows);
        Assert.Equal(5, r.GeneratedFakes);
        Assert.Equal(r.Epochs.MinBy(e => e.ValidationLoss), r.Best);
        Assert.All(r.Epochs, e => Assert.InRange(e.ValidationAccuracy, 0, 1));

        // 2. the folder: loadable weights whose validation score is the kept epoch's, the flow settings, the card
        var disc = FlowDiscriminator.Load(r.Directory);
        var info = disc.TrainingInfo!;
        Assert.Equal(r.Best.Epoch, info["epoch"]!.GetValue<int>());
        Assert.Equal(r.Best.ValidationAccuracy, info["validation_accuracy"]!.GetValue<double>(), 9);
        Assert.Equal(4, info["flow_options"]!["Iterations"]!.GetValue<int>());
        var card = File.ReadAllText(Path.Combine(r.Directory, DiscriminatorTrainer.CardFileName));
        Assert.Contains("## Validation accuracy", card);
        Assert.Contains($"{r.Best.ValidationAccuracy:P1}", card);
        Assert.Contains("(kept)", card);
        Assert.Contains(log, l => l.StartsWith("epoch 3/3", StringComparison.Ordinal));

        // 3. a rerun is cheap (nothing generated) and gives the same result
        var again = DiscriminatorTrainer.Train(Options("b"), model, _ => { });
        Assert.Equal(0, again.GeneratedFakes);
        Assert.Equal(r.Epochs.Select(e => e.ValidationLoss), again.Epochs.Select(e => e.ValidationLoss));

        // 4. other flow settings recompute flows but reuse the generated videos
        var other = DiscriminatorTrainer.Train(Options("c") with { Flow = Options("c").Flow with { Iterations = 5 }, StopAfterEpochs = 1 }, model, _ => { });
        Assert.Equal(0, other.GeneratedFakes);
        Assert.Equal(5, other.CachedFakes);
        Assert.Single(other.Epochs);
    }

    [Fact]
    public void ExactRealFlowsAreTheWorldsGroundTruth()
    {
        var model = TinyModel();
        var o = Options("exact") with { RealFlow = RealFlowSource.Exact, FakeVideos = 2, RealVideos = 2, PairsPerVideo = 4 };
        var data = new DiscriminatorData(o, model).Build(_ => { });
        var clip = MotionWorld.Generate(0, WorldSplit.Train, 5, 16, 16);
        var real0 = data.Train.Single(v => v.Label == 1f);
        // all four pairs of a 5-frame clip, in the drawn order: each is one of the clip's exact flows
        var exact = Enumerable.Range(0, 4).Select(f => Ops.Narrow(clip.Flow, 0, f, 1).ToArray()).ToList();
        for (int p = 0; p < 4; p++)
            Assert.Contains(exact, e => e.SequenceEqual(Ops.Narrow(real0.Flows, 0, p, 1).ToArray()));
        Assert.Throws<ArgumentException>(() => new DiscriminatorData(o with { PairsPerVideo = 5 }, model));
        Assert.Throws<ArgumentException>(() => DiscriminatorTrainer.Train(o with { RealVideos = 1 }, model, _ => { }));
    }
}
