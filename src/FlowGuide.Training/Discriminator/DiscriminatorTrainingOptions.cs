using FlowGuide.Models.Flow;

namespace FlowGuide.Training.Discriminator;

/// <summary>Where the flows of real (motion-world) clips come from.</summary>
public enum RealFlowSource
{
    /// <summary>
    /// FlowGuide's <see cref="ClassicalFlow"/> on the rendered frames: the same estimator as the fakes and as MotionPrompt at
    /// inference, so the discriminator cannot tell the classes apart by estimator artefacts (the default).
    /// </summary>
    Estimated,
    /// <summary>
    /// The world's exact flow. Fakes still need an estimate (a generated video has no ground truth), so the two classes then
    /// differ in how their flows were made as well as in motion; the discriminator may learn the estimator instead.
    /// </summary>
    Exact,
}

/// <summary>
/// Settings of <see cref="DiscriminatorTrainer"/>. Optimisation defaults are MotionPrompt's (SGD lr 5e-4, momentum 0.9,
/// batch 32, about 20 epochs, the epoch with the best validation loss kept). Real clips are motion-world training clips
/// 0..RealVideos-1; fakes are the model's videos for the captions of clips 0..FakeVideos-1, so both classes share prompts
/// as in the paper. Validation holds out the last <see cref="ValidationFraction"/> of each class's videos (all pairs of a
/// video land on one side).
/// </summary>
public sealed record DiscriminatorTrainingOptions
{
    /// <summary>Folder for the weights (config.json, model.safetensors) and the card (README.md).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Generated videos and flows are cached here, keyed by everything they depend on (default OUT/cache).</summary>
    public string? CacheDirectory { get; init; }

    public int RealVideos { get; init; } = 240;
    public int FakeVideos { get; init; } = 240;

    /// <summary>Adjacent frame pairs (f, f + 1) per video, drawn without repeats.</summary>
    public int PairsPerVideo { get; init; } = 4;

    public double ValidationFraction { get; init; } = 0.2;
    public int Epochs { get; init; } = 20;
    public int BatchSize { get; init; } = 32;
    public float LearningRate { get; init; } = 5e-4f;
    public float Momentum { get; init; } = 0.9f;
    public ulong Seed { get; init; } = 1;

    public RealFlowSource RealFlow { get; init; } = RealFlowSource.Estimated;

    /// <summary>
    /// Pass real clips through the model's VAE (encode, decode) before estimating their flow, so both classes carry the
    /// same reconstruction blur and only the motion differs. Off by default (the paper uses real footage as it is).
    /// </summary>
    public bool RealThroughVae { get; init; }

    /// <summary>
    /// Settings of the flow estimator for both classes, recorded with the weights so MotionPrompt estimates flows the same
    /// way during sampling, where it differentiates through them K times per guided step. Default: the library's with 3
    /// warps of 20 iterations (10 at the finest level), the metrics' fast settings (about a third of the work).
    /// </summary>
    public ClassicalFlowOptions Flow { get; init; } = FastFlow;

    /// <summary>The default <see cref="Flow"/>: <see cref="ClassicalFlowOptions.Default"/> with Warps 3, Iterations 20, FinestIterations 10.</summary>
    public static ClassicalFlowOptions FastFlow { get; } = ClassicalFlowOptions.Default with { Warps = 3, Iterations = 20, FinestIterations = 10 };

    public FlowDiscriminatorConfig Model { get; init; } = FlowDiscriminatorConfig.Small;

    /// <summary>Sampling steps for the fakes (null: the model's default).</summary>
    public int? GenerationSteps { get; init; }

    /// <summary>Stop after this many epochs in this session (for tests and short runs); the card reports what ran.</summary>
    public int? StopAfterEpochs { get; init; }

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(OutputDirectory, nameof(OutputDirectory));
        if (RealVideos < 2 || FakeVideos < 2)
            throw new ArgumentException($"DiscriminatorTrainingOptions: need at least 2 real and 2 fake videos (one for training, one for validation), got {RealVideos} and {FakeVideos}.");
        if (PairsPerVideo < 1) throw new ArgumentException($"DiscriminatorTrainingOptions: PairsPerVideo must be at least 1, got {PairsPerVideo}.");
        if (!(ValidationFraction > 0 && ValidationFraction < 1))
            throw new ArgumentException($"DiscriminatorTrainingOptions: ValidationFraction must lie in (0, 1), got {ValidationFraction}.");
        if (Epochs < 1 || BatchSize < 1) throw new ArgumentException($"DiscriminatorTrainingOptions: Epochs ({Epochs}) and BatchSize ({BatchSize}) must be at least 1.");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"DiscriminatorTrainingOptions: LearningRate must be positive, got {LearningRate}.");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"DiscriminatorTrainingOptions: Momentum must lie in [0, 1), got {Momentum}.");
        if (GenerationSteps is < 1) throw new ArgumentException($"DiscriminatorTrainingOptions: GenerationSteps must be at least 1, got {GenerationSteps}.");
        if (StopAfterEpochs is < 1) throw new ArgumentException($"DiscriminatorTrainingOptions: StopAfterEpochs must be at least 1, got {StopAfterEpochs}.");
        if (!Enum.IsDefined(RealFlow)) throw new ArgumentException($"DiscriminatorTrainingOptions: unknown real-flow source {RealFlow}.");
        ArgumentNullException.ThrowIfNull(Flow, nameof(Flow));
        Flow.Validate();
        ArgumentNullException.ThrowIfNull(Model, nameof(Model));
        Model.Validate();
    }

    /// <summary>Videos of each class held out for validation: at least 1, at most all but 1.</summary>
    internal static int ValidationCount(int videos, double fraction) => Math.Clamp((int)Math.Round(videos * fraction), 1, videos - 1);
}
