using System.Diagnostics;
using System.Globalization;
using FlowGuide.Nn;
using FlowGuide.Nn.Optim;
using FlowGuide.Tensors;

namespace FlowGuide.Training;

/// <summary>
/// Settings shared by the trainers: schedule, optimiser, EMA, clipping, checkpoint/validation cadence, data size.
/// The data a step sees is a pure function of the step number (clip index = (step·batch + b) mod
/// <see cref="TrainClips"/>), and every random draw comes from one generator whose state is checkpointed, so a run
/// resumed from a checkpoint continues bit-for-bit.
/// </summary>
public record TrainerOptions
{
    /// <summary>Folder for checkpoint/, exports and logs.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Total optimiser steps of the run (the learning-rate schedule spans these).</summary>
    public long Steps { get; init; } = 1000;

    /// <summary>Stop (with a checkpoint) after this many steps in this session; the run continues with Resume.</summary>
    public long? StopAfterSteps { get; init; }

    /// <summary>Continue from OutputDirectory/checkpoint; without it an existing checkpoint is an error (nothing is overwritten).</summary>
    public bool Resume { get; init; }

    public int BatchSize { get; init; } = 1;
    public float LearningRate { get; init; } = 3e-4f;
    public long WarmupSteps { get; init; } = 100;
    public float MinLearningRate { get; init; } = 1e-5f;
    public float WeightDecay { get; init; } = 0.01f;
    public float EmaDecay { get; init; } = 0.999f;
    /// <summary>Global gradient-norm clip (0 disables).</summary>
    public double ClipNorm { get; init; } = 1.0;
    public long CheckpointEvery { get; init; } = 200;
    /// <summary>Validation cadence in steps (0: only at the end).</summary>
    public long ValidateEvery { get; init; } = 200;
    public long LogEvery { get; init; } = 10;
    /// <summary>Seed of the run's noise generator (and of the initial weights).</summary>
    public ulong Seed { get; init; }

    public int Frames { get; init; } = 17;
    public int Height { get; init; } = 64;
    public int Width { get; init; } = 64;

    /// <summary>Distinct training clips, cycled (the world renders any number; a finite pool lets caches pay off).</summary>
    public long TrainClips { get; init; } = 1L << 20;

    /// <summary>Fixed validation clips (validation split indices 0..n-1).</summary>
    public int ValidationClips { get; init; } = 8;

    /// <summary>Throws naming the first setting out of range.</summary>
    public virtual void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("training: the output folder is empty.");
        if (Steps < 1) throw new ArgumentException($"training: steps must be at least 1, got {Steps}.");
        if (StopAfterSteps is < 1) throw new ArgumentException($"training: stop-after must be at least 1, got {StopAfterSteps}.");
        if (BatchSize < 1) throw new ArgumentException($"training: batch size must be at least 1, got {BatchSize}.");
        if (!(LearningRate > 0)) throw new ArgumentException($"training: learning rate must be positive, got {LearningRate}.");
        if (WarmupSteps < 0 || WarmupSteps > Steps) throw new ArgumentException($"training: warmup ({WarmupSteps}) must be in [0, steps = {Steps}].");
        if (EmaDecay is < 0 or > 1) throw new ArgumentException($"training: EMA decay must be in [0, 1], got {EmaDecay}.");
        if (CheckpointEvery < 1 || LogEvery < 1 || ValidateEvery < 0) throw new ArgumentException("training: checkpoint and log cadences must be at least 1, validation at least 0.");
        if (TrainClips < 1 || ValidationClips < 1) throw new ArgumentException($"training: need at least one training and one validation clip, got {TrainClips} and {ValidationClips}.");
        if (Frames < 1 || Height < 1 || Width < 1) throw new ArgumentException($"training: clip size {Frames}x{Height}x{Width} must be positive.");
    }

    /// <summary>Training-split clip index of batch item <paramref name="b"/> at (1-based) <paramref name="step"/>.</summary>
    public long ClipIndex(long step, int b) => ((step - 1) * BatchSize + b) % TrainClips;
}

/// <summary>What one training step returns: the loss to differentiate and, optionally, extra text for the log line.</summary>
public readonly record struct StepLoss(Tensor Loss, string? Note = null);

/// <summary>How a run ended.</summary>
/// <param name="Step">Steps completed in total (across sessions).</param>
/// <param name="Finished">True when <see cref="TrainerOptions.Steps"/> were reached (and the model was exported).</param>
/// <param name="Losses">Training loss of every step run in this session, in order.</param>
/// <param name="Validation">The last validation figure (PSNR in dB for the VAE, mean loss for the DiT); NaN if none ran.</param>
/// <param name="SecondsPerStep">Mean wall time per step in this session.</param>
/// <param name="ExportDirectory">Where the finished model was exported (null when the run stopped early).</param>
public sealed record TrainingResult(long Step, bool Finished, IReadOnlyList<double> Losses, double Validation, double SecondsPerStep, string? ExportDirectory);

/// <summary>One finished optimiser step, as <see cref="TrainingLoop.StepCompleted"/> reports it.</summary>
/// <param name="Step">The (1-based) step just completed.</param>
/// <param name="Loss">Its training loss.</param>
/// <param name="LearningRate">The learning rate it used.</param>
/// <param name="GradNorm">Global gradient norm before clipping (NaN when clipping is off).</param>
/// <param name="Seconds">Wall time of the step itself (loss, backward, clipping, optimiser, EMA), without validation or checkpointing.</param>
/// <param name="Validated">Whether validation ran after this step.</param>
public readonly record struct StepReport(long Step, double Loss, double LearningRate, double GradNorm, double Seconds, bool Validated);

/// <summary>
/// The optimisation loop both trainers share: AdamW with warm-up + cosine learning rate, global-norm clipping, EMA,
/// periodic validation, atomic checkpoints (<see cref="TrainingCheckpoint"/>: weights, optimiser, EMA, step, RNG) and
/// exact resume. The caller supplies the per-step loss and the validation.
/// </summary>
public sealed class TrainingLoop
{
    public const string CheckpointFolder = "checkpoint";

    private readonly TrainerOptions _o;
    private readonly Module _model;
    private readonly TextWriter _log;
    private readonly string _name;

    public TrainingLoop(string name, Module model, TrainerOptions options, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _name = name;
        _model = model;
        _o = options;
        _log = log ?? TextWriter.Null;
        Optimizer = new AdamW(model.NamedParameters(), options.LearningRate, weightDecay: options.WeightDecay);
        Ema = new Ema(model, options.EmaDecay);
        Rng = new Rng(options.Seed ^ 0x9E3779B97F4A7C15UL);
    }

    public AdamW Optimizer { get; }
    public Ema Ema { get; }
    /// <summary>The run's one noise generator (posterior samples, t, eps, caption dropout), checkpointed.</summary>
    public Rng Rng { get; }
    /// <summary>Completed steps.</summary>
    public long Step { get; private set; }

    /// <summary>
    /// Called after every step (after its validation, before its checkpoint), e.g. to append a row to a CSV log. A row
    /// written for a step later than the checkpoint a run resumes from is seen again when that step is re-run.
    /// </summary>
    public Action<StepReport>? StepCompleted { get; set; }

    public string CheckpointDirectory => Path.Combine(_o.OutputDirectory, CheckpointFolder);

    /// <summary>
    /// Runs steps until <see cref="TrainerOptions.Steps"/> (or StopAfterSteps in this session), then checkpoints. Returns
    /// the losses of this session; <paramref name="validate"/> returns (figure, log text) from the EMA weights.
    /// </summary>
    public (List<double> Losses, double Validation, double SecondsPerStep) Run(Func<long, StepLoss> step, Func<(double Value, string Text)> validate,
        CancellationToken cancel)
    {
        Directory.CreateDirectory(_o.OutputDirectory);
        if (TrainingCheckpoint.Exists(CheckpointDirectory))
        {
            if (!_o.Resume)
                throw new IOException($"{_name}: '{CheckpointDirectory}' already holds a checkpoint; pass --resume to continue it or choose another --out.");
            var ck = TrainingCheckpoint.Load(CheckpointDirectory, _model, Optimizer, Ema);
            Step = ck.Step;
            if (ck.RngStates.TryGetValue("noise", out var s)) Rng.State = s;
            _log.WriteLine(Invariant($"{_name}: resumed from step {Step} ({CheckpointDirectory})"));
        }
        else if (_o.Resume && Directory.Exists(_o.OutputDirectory) && Directory.EnumerateFileSystemEntries(_o.OutputDirectory).Any(e => Path.GetFileName(e) != "latents"))
            _log.WriteLine($"{_name}: --resume given but '{CheckpointDirectory}' holds no checkpoint; starting from step 0");

        var losses = new List<double>();
        double validation = double.NaN;
        long stopAt = Math.Min(_o.Steps, _o.StopAfterSteps is { } n ? Step + n : long.MaxValue);
        var clock = Stopwatch.StartNew();
        long startStep = Step;
        double windowLoss = 0;
        int windowCount = 0;
        while (Step < stopAt)
        {
            cancel.ThrowIfCancellationRequested();
            long s = Step + 1;
            Optimizer.LearningRate = LrSchedule.WarmupCosine(s, _o.LearningRate, _o.WarmupSteps, _o.Steps, _o.MinLearningRate);
            Optimizer.ZeroGrad();
            double lossValue, gnorm;
            string? note;
            long stepStart = clock.ElapsedTicks;
            using (var scope = new TensorScope())
            {
                var r = step(s);
                lossValue = r.Loss.Item();
                note = r.Note;
                if (!double.IsFinite(lossValue))
                    throw new InvalidOperationException($"{_name}: loss became {lossValue} at step {s}; lower the learning rate or resume from the last checkpoint.");
                r.Loss.Backward();
                gnorm = _o.ClipNorm > 0 ? GradClip.ClipGradNorm(_model.TrainableParameters(), _o.ClipNorm) : double.NaN;
                Optimizer.Step();
            }
            Optimizer.ZeroGrad();
            Ema.Update(s);
            double stepSeconds = (double)(clock.ElapsedTicks - stepStart) / Stopwatch.Frequency;
            Step = s;
            losses.Add(lossValue);
            windowLoss += lossValue;
            windowCount++;
            if (s % _o.LogEvery == 0 || s == stopAt)
            {
                double sps = clock.Elapsed.TotalSeconds / (s - startStep);
                _log.WriteLine(Invariant($"{_name} step {s}/{_o.Steps} loss {windowLoss / windowCount:F5} lr {Optimizer.LearningRate:0.00e+00} gnorm {gnorm:F3} {sps:F2} s/step eta {Eta(sps * (_o.Steps - s))}{(note is null ? "" : " " + note)}"));
                _log.Flush();
                windowLoss = 0;
                windowCount = 0;
            }
            bool validated = (_o.ValidateEvery > 0 && s % _o.ValidateEvery == 0) || s == _o.Steps;
            if (validated)
            {
                var (v, text) = validate();
                validation = v;
                _log.WriteLine(Invariant($"{_name} step {s} validation {text}"));
            }
            StepCompleted?.Invoke(new StepReport(s, lossValue, Optimizer.LearningRate, gnorm, stepSeconds, validated));
            if (s % _o.CheckpointEvery == 0 || s == stopAt) SaveCheckpoint();
        }
        double perStep = Step > startStep ? clock.Elapsed.TotalSeconds / (Step - startStep) : 0;
        return (losses, validation, perStep);
    }

    private void SaveCheckpoint()
    {
        new TrainingCheckpoint
        {
            Step = Step,
            RngStates = new Dictionary<string, RngState> { ["noise"] = Rng.State },
            Extra = new Dictionary<string, string> { ["trainer"] = _name, ["options"] = _o.ToString() },
        }.Save(CheckpointDirectory, _model, Optimizer, Ema);
        _log.WriteLine(Invariant($"{_name} step {Step}: checkpoint saved to {CheckpointDirectory}"));
    }

    private static string Eta(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return t.TotalHours >= 1 ? Invariant($"{(int)t.TotalHours}h{t.Minutes:00}m") : Invariant($"{t.Minutes}m{t.Seconds:00}s");
    }

    internal static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
