using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Models.Flow;
using FlowGuide.Nn.Optim;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Training.Discriminator;

/// <summary>Scores after one epoch (losses are mean binary cross-entropy per flow; accuracy thresholds P(real) at 0.5).</summary>
public sealed record DiscriminatorEpoch(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss,
    double ValidationAccuracy, double RealAccuracy, double FakeAccuracy, double Seconds);

/// <summary>What <see cref="DiscriminatorTrainer.Train"/> did: every epoch, the one kept, and the data it saw.</summary>
public sealed record DiscriminatorTrainingResult(string Directory, DiscriminatorEpoch Best, IReadOnlyList<DiscriminatorEpoch> Epochs,
    int TrainFlows, int ValidationFlows, int GeneratedFakes, int CachedFakes, double Seconds);

/// <summary>
/// Trains MotionPrompt's <see cref="FlowDiscriminator"/>: flows of real motion-world clips (label 1) against flows of the
/// model's own videos for the same captions (label 0), binary cross-entropy on the logits, SGD with momentum, shuffled
/// batches; after each epoch the validation loss decides whether the weights are written (the best epoch is kept). The
/// output folder gets <c>config.json</c> (with the flow settings and scores in its "training" object),
/// <c>model.safetensors</c> and a model card <c>README.md</c> reporting validation accuracy.
/// </summary>
public static class DiscriminatorTrainer
{
    public const string CardFileName = "README.md";

    public static DiscriminatorTrainingResult Train(DiscriminatorTrainingOptions options, ShippedModel model, Action<string> log, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(log);
        options.Validate();
        var clock = Stopwatch.StartNew();

        // 1. data (cached), flattened to (video, pair) items
        var builder = new DiscriminatorData(options, model);
        var data = builder.Build(log, cancel);
        var train = Items(data.Train);
        var validation = Items(data.Validation);
        log(string.Create(CultureInfo.InvariantCulture,
            $"data: {data.TrainFlows} training and {data.ValidationFlows} validation flows ({clock.Elapsed.TotalSeconds:F1} s)"));

        // 2. model and optimiser
        var disc = new FlowDiscriminator(options.Model, new Rng(options.Seed));
        var sgd = new Sgd(disc.NamedParameters(), options.LearningRate, options.Momentum);
        var epochs = new List<DiscriminatorEpoch>();
        DiscriminatorEpoch? best = null;
        int last = Math.Min(options.Epochs, options.StopAfterEpochs ?? int.MaxValue);
        for (int epoch = 1; epoch <= last; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            // 3. one pass over shuffled training flows
            disc.Train();
            var order = Shuffle(train.Count, new Rng(options.Seed + (ulong)epoch * 0x9E37UL));
            double lossSum = 0;
            int correct = 0;
            for (int start = 0; start < order.Length; start += options.BatchSize)
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = new TensorScope();
                var batch = order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray().Select(i => train[i]).ToList();
                var (x, y) = Stack(batch);
                var logits = disc.Forward(x);
                var loss = Bce(logits, y);
                loss.Backward();
                sgd.Step();
                sgd.ZeroGrad();
                lossSum += loss.Item() * batch.Count;
                var (r, f) = Correct(logits, y);
                correct += r + f;
            }
            // 4. validation, and the weights when it is the best so far
            var (vLoss, vAcc, realAcc, fakeAcc) = Evaluate(disc, validation, options.BatchSize);
            var e = new DiscriminatorEpoch(epoch, lossSum / train.Count, (double)correct / train.Count, vLoss, vAcc, realAcc, fakeAcc, epochClock.Elapsed.TotalSeconds);
            epochs.Add(e);
            bool improved = best is null || e.ValidationLoss < best.ValidationLoss;
            if (improved)
            {
                best = e;
                disc.TrainingInfo = TrainingInfo(options, model, builder, data, e);
                disc.Save(options.OutputDirectory);
            }
            log(string.Create(CultureInfo.InvariantCulture,
                $"epoch {epoch}/{options.Epochs}: train loss {e.TrainLoss:F4} acc {e.TrainAccuracy:P1}; validation loss {e.ValidationLoss:F4} acc {e.ValidationAccuracy:P1} (real {e.RealAccuracy:P1}, generated {e.FakeAccuracy:P1}){(improved ? " *" : "")} [{e.Seconds:F1} s]"));
        }

        // 5. the card
        var result = new DiscriminatorTrainingResult(options.OutputDirectory, best!, epochs, data.TrainFlows, data.ValidationFlows,
            data.GeneratedFakes, data.CachedFakes, clock.Elapsed.TotalSeconds);
        WriteCard(options, model, builder, result);
        return result;
    }

    private static List<(Tensor Flows, int Pair, float Label)> Items(IReadOnlyList<VideoFlows> videos) =>
        videos.SelectMany(v => Enumerable.Range(0, v.Flows.Size(0)).Select(p => (v.Flows, p, v.Label))).ToList();

    private static int[] Shuffle(int n, Rng rng)
    {
        var a = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
        return a;
    }

    /// <summary>Flows [B, 2, H, W] and labels [B] for a batch of items.</summary>
    private static (Tensor X, Tensor Y) Stack(IReadOnlyList<(Tensor Flows, int Pair, float Label)> items)
    {
        var first = items[0].Flows;
        int h = first.Size(2), w = first.Size(3), plane = 2 * h * w;
        var x = Tensor.Empty(items.Count, 2, h, w);
        var y = Tensor.Empty(items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            items[i].Flows.Span.Slice(items[i].Pair * plane, plane).CopyTo(x.Span.Slice(i * plane, plane));
            y.Span[i] = items[i].Label;
        }
        return (x, y);
    }

    /// <summary>Mean binary cross-entropy with logits: <c>softplus(x) - y x</c>.</summary>
    private static Tensor Bce(Tensor logits, Tensor labels)
    {
        var softplus = Ops.Add(Ops.Relu(logits), Ops.Log(Ops.AddScalar(Ops.Exp(Ops.Neg(Ops.Abs(logits))), 1f)));
        return Ops.Mean(Ops.Sub(softplus, Ops.Mul(labels, logits)));
    }

    private static (int Real, int Fake) Correct(Tensor logits, Tensor labels)
    {
        int real = 0, fake = 0;
        var l = logits.Span;
        var y = labels.Span;
        for (int i = 0; i < l.Length; i++)
        {
            if (y[i] > 0.5f && l[i] > 0) real++;
            else if (y[i] < 0.5f && l[i] <= 0) fake++;
        }
        return (real, fake);
    }

    /// <summary>Validation loss, accuracy, and accuracy on each class, in eval mode without a tape.</summary>
    public static (double Loss, double Accuracy, double RealAccuracy, double FakeAccuracy) Evaluate(FlowDiscriminator disc, IReadOnlyList<VideoFlows> videos, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(disc);
        ArgumentNullException.ThrowIfNull(videos);
        return Evaluate(disc, Items(videos), batchSize);
    }

    private static (double, double, double, double) Evaluate(FlowDiscriminator disc, List<(Tensor Flows, int Pair, float Label)> items, int batchSize)
    {
        disc.Eval();
        using var _ = GradMode.NoGrad();
        double loss = 0;
        int real = 0, fake = 0;
        for (int start = 0; start < items.Count; start += batchSize)
        {
            using var scope = new TensorScope();
            var (x, y) = Stack(items.GetRange(start, Math.Min(batchSize, items.Count - start)));
            var logits = disc.Forward(x);
            loss += Bce(logits, y).Item() * x.Size(0);
            var (r, f) = Correct(logits, y);
            real += r; fake += f;
        }
        int nReal = items.Count(i => i.Label > 0.5f), nFake = items.Count - nReal;
        return (loss / items.Count, (double)(real + fake) / items.Count, nReal > 0 ? (double)real / nReal : double.NaN, nFake > 0 ? (double)fake / nFake : double.NaN);
    }

    private static JsonObject TrainingInfo(DiscriminatorTrainingOptions o, ShippedModel model, DiscriminatorData builder, DiscriminatorDataset data, DiscriminatorEpoch e) => new()
    {
        ["flow"] = "classical",
        ["flow_options"] = JsonSerializer.SerializeToNode(o.Flow),
        ["real_flow"] = o.RealFlow == RealFlowSource.Exact ? "exact" : "estimated",
        ["real_through_vae"] = o.RealThroughVae,
        ["model"] = model.Directory,
        ["fake_key"] = builder.FakeKey,
        ["flow_key"] = builder.FlowKey,
        ["frames"] = builder.Generation.Frames,
        ["height"] = builder.Generation.Height,
        ["width"] = builder.Generation.Width,
        ["train_flows"] = data.TrainFlows,
        ["validation_flows"] = data.ValidationFlows,
        ["epoch"] = e.Epoch,
        ["validation_loss"] = e.ValidationLoss,
        ["validation_accuracy"] = e.ValidationAccuracy,
        ["validation_real_accuracy"] = e.RealAccuracy,
        ["validation_fake_accuracy"] = e.FakeAccuracy,
    };

    private static void WriteCard(DiscriminatorTrainingOptions o, ShippedModel model, DiscriminatorData builder, DiscriminatorTrainingResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        var g = builder.Generation;
        var b = r.Best;
        int rv = DiscriminatorTrainingOptions.ValidationCount(o.RealVideos, o.ValidationFraction);
        int fv = DiscriminatorTrainingOptions.ValidationCount(o.FakeVideos, o.ValidationFraction);
        var sb = new StringBuilder();
        sb.AppendLine("# MotionPrompt flow discriminator");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Scores one optical flow (2 x {g.Height} x {g.Width}, pixels) as real motion or motion generated by `{Path.GetFileName(model.Directory)}`; used by `flowguide generate --guidance motionprompt`."));
        sb.AppendLine();
        sb.AppendLine("## Validation accuracy");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"**{b.ValidationAccuracy:P1}** on {r.ValidationFlows} held-out flows (real {b.RealAccuracy:P1}, generated {b.FakeAccuracy:P1}); validation loss {b.ValidationLoss:F4} at epoch {b.Epoch} of {r.Epochs.Count} run (the epoch kept: lowest validation loss)."));
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Held out: the last {rv} real and {fv} generated videos (every pair of a video is on one side). These are flows of finished videos; MotionPrompt applies the discriminator to flows of predicted clean frames during sampling, which it never saw in training."));
        sb.AppendLine();
        sb.AppendLine("## Data");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"- Real: motion-world training clips 0..{o.RealVideos - 1} at {g.Frames} frames of {g.Height}x{g.Width}, flow {(o.RealFlow == RealFlowSource.Exact ? "exact (the world's ground truth)" : "estimated")}{(o.RealThroughVae ? ", clips passed through the model's VAE first" : "")}."));
        sb.AppendLine(string.Create(inv, $"- Generated: {o.FakeVideos} videos of the model for the captions of clips 0..{o.FakeVideos - 1} ({g.Steps} steps {g.Sampler}, cfg {g.GuidanceScale}, shift {g.Shift}; seeds {o.Seed} x 7919 + index)."));
        sb.AppendLine(string.Create(inv, $"- {o.PairsPerVideo} random adjacent frame pairs per video; flows by FlowGuide's ClassicalFlow (TV-L1) with `{JsonSerializer.Serialize(o.Flow)}`."));
        sb.AppendLine(string.Create(inv, $"- {r.TrainFlows} training flows, {r.ValidationFlows} validation flows. Model folder: `{model.Directory}`; fake cache key {builder.FakeKey}."));
        sb.AppendLine();
        sb.AppendLine("## Model and training");
        sb.AppendLine();
        var c = o.Model;
        sb.AppendLine(string.Create(inv, $"- ViT over {c.PatchSize}x{c.PatchSize} flow patches: width {c.Width}, {c.Layers} layers, {c.Heads} heads, feed-forward {c.FfnDim}, a {c.PositionGrid}x{c.PositionGrid} position table resized to the token grid, mean-pooled tokens, 3-layer MLP head ({c.HeadDim} hidden); flow scaled by {c.FlowScale}."));
        sb.AppendLine(string.Create(inv, $"- Binary cross-entropy, SGD lr {o.LearningRate} momentum {o.Momentum}, batch {o.BatchSize}, {o.Epochs} epochs planned, seed {o.Seed}; {r.Seconds:F0} s in all ({r.GeneratedFakes} videos generated, {r.CachedFakes} from the cache)."));
        sb.AppendLine();
        sb.AppendLine("| epoch | train loss | train acc | val loss | val acc | real acc | generated acc |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var e in r.Epochs)
            sb.AppendLine(string.Create(inv, $"| {e.Epoch}{(e.Epoch == b.Epoch ? " (kept)" : "")} | {e.TrainLoss:F4} | {e.TrainAccuracy:P1} | {e.ValidationLoss:F4} | {e.ValidationAccuracy:P1} | {e.RealAccuracy:P1} | {e.FakeAccuracy:P1} |"));
        var path = Path.Combine(o.OutputDirectory, CardFileName);
        File.WriteAllText(path + ".tmp", sb.ToString(), new UTF8Encoding(false));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
