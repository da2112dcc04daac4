using System.Globalization;
using FlowGuide.Models.Flow;
using FlowGuide.Nn;
using FlowGuide.Nn.Optim;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training.Flow;

/// <summary>Settings of <see cref="FlowTrainer"/>.</summary>
public sealed record FlowTrainOptions
{
    public required string OutDir { get; init; }
    public int Steps { get; init; } = 20_000;
    public int Batch { get; init; } = 8;
    public float LearningRate { get; init; } = 4e-4f;
    public float WeightDecay { get; init; } = 1e-4f;
    public int WarmupSteps { get; init; } = 200;
    public double ClipNorm { get; init; } = 1.0;
    public float Gamma { get; init; } = 0.8f;
    public int Size { get; init; } = 64;
    /// <summary>Every k-th training sample comes from the motion world (0: never).</summary>
    public int WorldEvery { get; init; } = 4;
    public int ValidateEvery { get; init; } = 200;
    public int ValidationPairs { get; init; } = 32;
    public int CheckpointEvery { get; init; } = 200;
    public ulong Seed { get; init; } = 1;
    public RaftSmallConfig Config { get; init; } = RaftSmallConfig.Small;
    public bool Resume { get; init; }
    /// <summary>Stop (after checkpointing) at this step although the schedule runs to Steps; for interrupted runs and tests.</summary>
    public int? StopAfter { get; init; }
}

/// <summary>
/// Trains <see cref="RaftSmall"/> on procedural pairs with exact flow (<see cref="ChairsGenerator"/> plus motion-world
/// clips) with AdamW, warm-up + cosine learning rate, gradient clipping and the sequence loss. Sample indices are a
/// function of the step, so a run resumed from OutDir/checkpoint continues bit-exactly. Validation EPE is measured on
/// a fixed held-out procedural set (a different generator seed); the best model is written to OutDir/raft-small.safetensors.
/// </summary>
public sealed class FlowTrainer
{
    private readonly FlowTrainOptions _o;
    private readonly ChairsGenerator _train, _valid;

    public FlowTrainer(FlowTrainOptions options)
    {
        _o = options ?? throw new ArgumentNullException(nameof(options));
        if (_o.Steps < 1 || _o.Batch < 1 || _o.Size < 16 || _o.Size % 8 != 0)
            throw new ArgumentException($"FlowTrainer: steps {_o.Steps} and batch {_o.Batch} must be >= 1, size {_o.Size} a multiple of 8 >= 16.");
        if (!(_o.LearningRate > 0)) throw new ArgumentException($"FlowTrainer: learning rate {_o.LearningRate} must be > 0.");
        _train = new ChairsGenerator(_o.Size, _o.Size, _o.Seed);
        _valid = new ChairsGenerator(_o.Size, _o.Size, _o.Seed + 0x5EED_0000UL);
        Model = new RaftSmall(_o.Config, new Rng(_o.Seed));
        Optimizer = new AdamW(Model.NamedParameters(), _o.LearningRate, weightDecay: _o.WeightDecay);
    }

    public RaftSmall Model { get; }
    public AdamW Optimizer { get; }
    public string CheckpointDir => Path.Combine(_o.OutDir, "checkpoint");
    public string WeightsPath => Path.Combine(_o.OutDir, "raft-small.safetensors");

    /// <summary>Runs to <see cref="FlowTrainOptions.Steps"/>; reports one line per log/validation event. Returns the last validation EPE.</summary>
    public double Run(Action<string> log, CancellationToken cancel = default)
    {
        long start = 0;
        double best = double.PositiveInfinity, lastEpe = double.NaN;
        Directory.CreateDirectory(_o.OutDir);
        if (_o.Resume)
        {
            if (!TrainingCheckpoint.Exists(CheckpointDir))
                throw new FileNotFoundException($"train flow --resume: no checkpoint in '{CheckpointDir}'.", CheckpointDir);
            var ck = TrainingCheckpoint.Load(CheckpointDir, Model, Optimizer);
            if (ck.Extra.TryGetValue("config", out var cfg) && cfg != _o.Config.Serialize())
                throw new ArgumentException($"train flow --resume: checkpoint config '{cfg}' differs from this run's '{_o.Config.Serialize()}'.");
            start = ck.Step;
            if (ck.Extra.TryGetValue("best_epe", out var b)) best = double.Parse(b, CultureInfo.InvariantCulture);
            log($"resumed at step {start}");
        }
        for (long step = start + 1; step <= _o.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            double loss = TrainStep(step);
            if (step % 10 == 0 || step == start + 1) log($"step {step} loss {loss:0.0000} lr {Optimizer.LearningRate:0.000e0}");
            bool last = step == _o.Steps || step == _o.StopAfter;
            if (step % _o.ValidateEvery == 0 || last)
            {
                lastEpe = Validate();
                log($"step {step} validation EPE {lastEpe:0.000} px");
                if (lastEpe < best) { best = lastEpe; Model.Save(WeightsPath); }
            }
            if (step % _o.CheckpointEvery == 0 || last) SaveCheckpoint(step, best);
            if (step == _o.StopAfter) break;
        }
        return lastEpe;
    }

    /// <summary>One optimisation step on the batch of <paramref name="step"/>; returns the loss.</summary>
    public double TrainStep(long step)
    {
        Model.Train();
        var batch = TrainBatch(step);
        var preds = Model.Forward(batch.Frame1, batch.Frame2);
        var loss = RaftSmall.SequenceLoss(preds, batch.Flow, _o.Gamma);
        Optimizer.ZeroGrad();
        Autograd.Backward(loss);
        GradClip.ClipGradNorm(Model.Parameters(), _o.ClipNorm);
        Optimizer.LearningRate = LrSchedule.WarmupCosine(step, _o.LearningRate, Math.Min(_o.WarmupSteps, _o.Steps), _o.Steps, _o.LearningRate * 0.02f);
        Optimizer.Step();
        return loss.Item();
    }

    /// <summary>The batch of a step: samples (step - 1) * Batch ... ; every WorldEvery-th from the motion world.</summary>
    public FlowSample TrainBatch(long step)
    {
        var samples = new List<FlowSample>(_o.Batch);
        for (int i = 0; i < _o.Batch; i++)
        {
            long index = (step - 1) * _o.Batch + i;
            samples.Add(_o.WorldEvery > 0 && index % _o.WorldEvery == _o.WorldEvery - 1 ? WorldPair(index / _o.WorldEvery) : _train.Sample(index));
        }
        return new FlowSample(Ops.Concat(samples.Select(s => s.Frame1).ToList(), 0), Ops.Concat(samples.Select(s => s.Frame2).ToList(), 0),
                              Ops.Concat(samples.Select(s => s.Flow).ToList(), 0));
    }

    private FlowSample WorldPair(long index)
    {
        var clip = MotionWorld.Generate(index, WorldSplit.Train, frames: 2, width: _o.Size, height: _o.Size);
        int h = _o.Size, w = _o.Size;
        var v = clip.Video; // [3, 2, H, W]
        var f1 = v.Narrow(1, 0, 1).Reshape(1, 3, h, w);
        var f2 = v.Narrow(1, 1, 1).Reshape(1, 3, h, w);
        return new FlowSample(f1, f2, clip.Flow.Reshape(1, 2, h, w));
    }

    /// <summary>Mean EPE of the model (eval mode) over the fixed held-out procedural set.</summary>
    public double Validate() => Evaluate((a, b) => Model.Estimate(a, b));

    /// <summary>Mean EPE of any estimator (frames in [-1, 1]) over the held-out procedural set.</summary>
    public double Evaluate(Func<Tensor, Tensor, Tensor> estimate)
    {
        Model.Eval();
        double sum = 0;
        using var _ = GradMode.NoGrad();
        for (int i = 0; i < _o.ValidationPairs; i++)
        {
            var s = _valid.Sample(i);
            sum += FlowMetrics.EndpointError(estimate(s.Frame1, s.Frame2), s.Flow);
        }
        Model.Train();
        return sum / _o.ValidationPairs;
    }

    private void SaveCheckpoint(long step, double best) =>
        new TrainingCheckpoint
        {
            Step = step,
            Extra = new Dictionary<string, string>
            {
                ["config"] = _o.Config.Serialize(),
                ["best_epe"] = best.ToString("R", CultureInfo.InvariantCulture),
            },
        }.Save(CheckpointDir, Model, Optimizer);
}
