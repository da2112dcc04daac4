using System.Globalization;
using System.Text.Json.Nodes;
using FlowGuide.Models.Video;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training;

/// <summary>Settings of <c>flowguide train classifier</c> (beyond the shared schedule, optimiser and cadence).</summary>
public sealed record MotionClassifierTrainingOptions : TrainerOptions
{
    /// <summary>Folder of the frozen VAE whose latents the classifier reads (the video model's own VAE).</summary>
    public required string VaeDirectory { get; init; }
    /// <summary>Root of a latent cache shared with other runs (a DiT run's <c>latents/</c>); null: the run's own.</summary>
    public string? LatentCacheDirectory { get; init; }
    /// <summary>
    /// Sizes; null: <see cref="LatentMotionClassifierConfig.Small"/> for the VAE's channels, conditioned on the subject's
    /// colour (the frame count always follows the clips). Its subjects must be none or <see cref="MotionLabels.Subjects"/>.
    /// </summary>
    public LatentMotionClassifierConfig? Model { get; init; }
    /// <summary>Noise levels the validation accuracy is reported at.</summary>
    public double[] ValidationTimesteps { get; init; } = { 0.3, 0.5, 0.7, 0.9 };

    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(VaeDirectory)) throw new ArgumentException("MotionClassifierTrainer: the VAE folder is empty.");
        if (ValidationTimesteps is null || ValidationTimesteps.Length == 0 || ValidationTimesteps.Any(t => !(t >= 0 && t <= 1)))
            throw new ArgumentException("MotionClassifierTrainer: validation noise levels must be in [0, 1].");
        Model?.Validate();
    }
}

/// <summary>A validation of a motion classifier: accuracy per noise level, and per class over all the noise levels.</summary>
/// <param name="Accuracy">Per <see cref="MotionClassifierTrainingOptions.ValidationTimesteps"/>, the fraction of clips classified right.</param>
/// <param name="ClassCorrect">Per class, right predictions over all clips of that class and all noise levels.</param>
/// <param name="ClassCount">Per class, predictions made (clips of that class x noise levels).</param>
public sealed record MotionClassifierValidation(double[] Accuracy, int[] ClassCorrect, int[] ClassCount)
{
    /// <summary>Accuracy on the clips of class <paramref name="c"/>, NaN when the validation had none.</summary>
    public double ClassAccuracy(int c) => ClassCount[c] == 0 ? double.NaN : (double)ClassCorrect[c] / ClassCount[c];
}

/// <summary>
/// Trains a <see cref="LatentMotionClassifier"/> on motion-world clips: each step encodes (or reads from the latent
/// cache) a batch of training-split clips, noises them to z_t = (1 - t)·z0 + t·eps with t ~ U(0, 1), and minimises
/// the cross-entropy against the clip's <see cref="MotionLabels"/> class (told, for a conditional classifier, the colour
/// of the shape the caption is about). Validation reports the accuracy of the EMA
/// weights on the validation split at fixed noise levels and noise draws. Checkpoints, exact resume, EMA and the
/// learning-rate schedule are <see cref="TrainingLoop"/>'s; at the end the EMA weights go to <c>OUT/classifier</c>.
/// </summary>
public static class MotionClassifierTrainer
{
    public const string ExportFolder = "classifier";

    public static TrainingResult Train(MotionClassifierTrainingOptions options, TextWriter? log = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= TextWriter.Null;
        var vae = VideoAutoencoders.LoadFrozen(options.VaeDirectory);
        // the tracks are resampled to the training clips' latent frame count
        var config = (options.Model ?? LatentMotionClassifierConfig.Small(vae.LatentChannels, MotionLabels.Names, MotionLabels.Subjects))
            with { Frames = 1 + (options.Frames - 1) / vae.TemporalFactor };
        if (config.InChannels != vae.LatentChannels)
            throw new ArgumentException($"MotionClassifierTrainer: the VAE has {vae.LatentChannels} latent channels, the classifier reads {config.InChannels}.");
        if (!config.Classes.SequenceEqual(MotionLabels.Names))
            throw new ArgumentException("MotionClassifierTrainer: the classifier's classes are not the motion world's (MotionLabels.Names).");
        if (config.Conditional && !config.SubjectNames.SequenceEqual(MotionLabels.Subjects))
            throw new ArgumentException("MotionClassifierTrainer: the classifier's subjects are not the motion world's colours (MotionLabels.Subjects).");
        var latents = new LatentCache(vae, options, options.VaeDirectory, options.LatentCacheDirectory);
        var model = new LatentMotionClassifier(config, new Rng(options.Seed));
        model.Train();
        var loop = new TrainingLoop("classifier", model, options, log);
        var evalModel = new LatentMotionClassifier(config, null);
        evalModel.Freeze();
        evalModel.Eval();

        MotionClassifierValidation? last = null; // the last validation of this session (the loop validates at the final step)
        var (losses, val, sps) = loop.Run(step =>
        {
            var z0s = new Tensor[options.BatchSize];
            var labels = new int[options.BatchSize];
            var subjects = new int[options.BatchSize];
            for (int b = 0; b < options.BatchSize; b++)
            {
                long index = options.ClipIndex(step, b);
                z0s[b] = latents.Get(index, WorldSplit.Train);
                var spec = MotionWorld.Sample(index, WorldSplit.Train, options.Frames, options.Width, options.Height);
                labels[b] = MotionLabels.Of(spec);
                subjects[b] = MotionLabels.SubjectOf(spec);
            }
            var t = new float[options.BatchSize];
            for (int b = 0; b < t.Length; b++) t[b] = (float)loop.Rng.Uniform();
            var z0 = z0s.Length == 1 ? z0s[0] : Ops.Concat(z0s, 0);
            var zt = DitTrainer.Noised(z0, Tensor.Randn(loop.Rng, z0.Shape.ToArray()), t);
            var loss = Ops.Neg(model.LogProbability(zt, Tensor.FromArray(t, t.Length), labels, config.Conditional ? subjects : null))
                .MulScalar(1f / options.BatchSize);
            return new StepLoss(loss);
        }, () =>
        {
            loop.Ema.CopyTo(evalModel);
            last = Evaluate(evalModel, latents, options);
            var acc = last.Accuracy;
            return (acc.Average(), string.Create(CultureInfo.InvariantCulture,
                $"accuracy {acc.Average():P1} (EMA, {options.ValidationClips} clips; at t = {string.Join(", ", options.ValidationTimesteps.Zip(acc, (tt, a) => $"{tt:0.##}: {a:P1}"))})"));
        }, cancel);

        string? export = null;
        if (loop.Step >= options.Steps)
        {
            // a session that resumed at the final step ran no validation: the export measures its own
            loop.Ema.CopyTo(evalModel);
            last ??= Evaluate(evalModel, latents, options);
            var acc = last.Accuracy;
            var names = evalModel.Config.Classes;
            evalModel.TrainingInfo = new JsonObject
            {
                ["world_version"] = MotionWorld.Version,
                ["frames"] = options.Frames,
                ["height"] = options.Height,
                ["width"] = options.Width,
                ["steps"] = loop.Step,
                ["batch"] = options.BatchSize,
                ["train_clips"] = options.TrainClips,
                ["validation_clips"] = options.ValidationClips,
                ["validation_accuracy"] = new JsonObject(options.ValidationTimesteps.Zip(acc).Select(p =>
                    KeyValuePair.Create(p.First.ToString("0.##", CultureInfo.InvariantCulture), (JsonNode?)Math.Round(p.Second, 4)))),
                // per class, over the validation clips of that class at all the noise levels above: how far guidance can trust it
                ["class_accuracy"] = new JsonObject(Enumerable.Range(0, names.Length).Where(c => last.ClassCount[c] > 0).Select(c =>
                    KeyValuePair.Create(names[c], (JsonNode?)Math.Round(last.ClassAccuracy(c), 4)))),
            };
            export = Path.Combine(options.OutputDirectory, ExportFolder);
            evalModel.Save(export);
            log.WriteLine($"classifier: exported EMA weights to {export}");
        }
        return new TrainingResult(loop.Step, loop.Step >= options.Steps, losses, val, sps, export);
    }

    /// <summary>Accuracy per <see cref="MotionClassifierTrainingOptions.ValidationTimesteps"/> on validation clips 0..n-1, with noise drawn from fixed seeds.</summary>
    public static double[] Validate(LatentMotionClassifier model, LatentCache latents, MotionClassifierTrainingOptions options) =>
        Evaluate(model, latents, options).Accuracy;

    /// <summary><see cref="Validate"/> with the per-class tally as well.</summary>
    public static MotionClassifierValidation Evaluate(LatentMotionClassifier model, LatentCache latents, MotionClassifierTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(latents);
        ArgumentNullException.ThrowIfNull(options);
        using var _ = GradMode.NoGrad();
        var ts = options.ValidationTimesteps;
        var correct = new int[ts.Length];
        int classes = model.Config.Classes.Length;
        var classCorrect = new int[classes];
        var classCount = new int[classes];
        for (int i = 0; i < options.ValidationClips; i++)
        {
            using var scope = new TensorScope();
            var z0 = latents.Get(i, WorldSplit.Validation);
            var spec = MotionWorld.Sample(i, WorldSplit.Validation, options.Frames, options.Width, options.Height);
            int label = MotionLabels.Of(spec);
            var eps = Tensor.Randn(new Rng(0xC1A5_0000UL + (ulong)i), z0.Shape.ToArray());
            var t = ts.Select(x => (float)x).ToArray();
            var batch = Ops.Concat(Enumerable.Repeat(z0, ts.Length).ToArray(), 0);
            var subjects = model.Config.Conditional ? Enumerable.Repeat(MotionLabels.SubjectOf(spec), ts.Length).ToArray() : null;
            var logits = model.Forward(DitTrainer.Noised(batch, Ops.Concat(Enumerable.Repeat(eps, ts.Length).ToArray(), 0), t),
                Tensor.FromArray(t, t.Length), subjects).ToArray();
            int k = model.Config.Classes.Length;
            for (int j = 0; j < ts.Length; j++)
            {
                int best = 0;
                for (int c = 1; c < k; c++) if (logits[j * k + c] > logits[j * k + best]) best = c;
                if (best == label) { correct[j]++; classCorrect[label]++; }
                classCount[label]++;
            }
        }
        return new MotionClassifierValidation(correct.Select(c => (double)c / options.ValidationClips).ToArray(), classCorrect, classCount);
    }
}
