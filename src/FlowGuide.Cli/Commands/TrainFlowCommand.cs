using FlowGuide.Models.Flow;
using FlowGuide.Training.Flow;

namespace FlowGuide.Cli;

/// <summary><c>flowguide train flow</c>: trains the small RAFT-style estimator on procedural pairs with exact flow.</summary>
public sealed class TrainFlowCommand : Command
{
    public override string Name => "train flow";
    public override string Summary => "train the learned flow estimator (RaftSmall) on procedural pairs";
    public override string Usage =>
        "flowguide train flow --out DIR [--steps N] [--batch B] [--lr LR] [--size S] [--validate-every K] [--seed S] [--tiny] [--resume] [--stop-after N]\n\n" +
        "Trains on FlyingChairs-style procedural pairs plus motion-world clips (exact flow), AdamW with warm-up + cosine,\n" +
        "gradient clipping at 1. Writes DIR/checkpoint (resumable bit-exactly with --resume) and DIR/raft-small.safetensors\n" +
        "(the weights with the best validation EPE on a fixed held-out procedural set). --stop-after N checkpoints and stops\n" +
        "at step N of the --steps schedule; continue later with the same options and --resume.";

    public override IReadOnlySet<string> Flags => new HashSet<string> { "resume", "tiny" };

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var outDir = args.String("out") ?? throw new UsageException("--out DIR is required");
        var o = new FlowTrainOptions
        {
            OutDir = outDir,
            Steps = Positive(args.Int("steps", 20_000), "steps"),
            Batch = Positive(args.Int("batch", 8), "batch"),
            LearningRate = args.Float("lr", 4e-4f),
            Size = args.Int("size", 64),
            ValidateEvery = Positive(args.Int("validate-every", 200), "validate-every"),
            CheckpointEvery = Positive(args.Int("validate-every", 200), "validate-every"),
            Seed = args.Seed("seed", 1),
            Config = args.Flag("tiny") ? RaftSmallConfig.Tiny : RaftSmallConfig.Small,
            Resume = args.Flag("resume"),
            StopAfter = args.String("stop-after") is null ? null : Positive(args.Int("stop-after", 1), "stop-after"),
        };
        args.EnsureAllUsed(0);
        if (o.Size < 16 || o.Size % 8 != 0) throw new UsageException($"--size must be a multiple of 8, at least 16, got {o.Size}");
        if (!(o.LearningRate > 0)) throw new UsageException($"--lr must be > 0, got {o.LearningRate}");
        var trainer = new FlowTrainer(o);
        output.WriteLine($"RaftSmall {trainer.Model.ParameterCount} parameters, {o.Steps} steps of batch {o.Batch} at {o.Size}x{o.Size}");
        trainer.Run(line => { output.WriteLine(line); output.Flush(); }, cancel);
        output.WriteLine($"weights: {trainer.WeightsPath}");
        return 0;
    }

    private static int Positive(int v, string name) => v >= 1 ? v : throw new UsageException($"--{name} must be >= 1, got {v}");
}
