using System.Globalization;
using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Training;
using FlowGuide.Training.Experiments;

namespace FlowGuide.Cli;

/// <summary><c>flowguide experiment flowloss</c>: the FlowLoss comparison (baseline, gate per psi, weighted averages), resumable per run.</summary>
public sealed class ExperimentFlowLossCommand : Command
{
    public override string Name => "experiment flowloss";
    public override string Summary => "train the transformer with and without FlowLoss from one initialisation; curves and summary";
    public override IReadOnlySet<string> Flags => new HashSet<string>(FlowLossArgs.Flags) { "summary-only", "resume" };
    public override string Usage =>
        "flowguide experiment flowloss --vae VAE_DIR --out DIR --steps N [options]\n\n" +
        "Trains one run per variant and seed from the same initialisation and data order, each for N steps, in DIR/runs/NAME-sSEED\n" +
        "(checkpoint/, train_log.csv, model/); then writes DIR/summary.md with SVG curves (flow error against step, losses) and\n" +
        "the cost per step of each variant. Run the same command again to resume: finished runs are skipped, interrupted ones\n" +
        "continue from their last checkpoint; a DIR started with other shared settings is refused.\n\n" +
        "  --vae DIR            trained VAE folder (frozen); --model must match its latent channels\n" +
        "  --out DIR            experiment folder (required)\n" +
        "  --steps N            optimiser steps of every run (required)\n" +
        "  --variants LIST      any of recon,gate,ss,ls (default all)\n" +
        "  --psi LIST           gate thresholds, one gated run each (default 0.25,0.5,1)\n" +
        "  --seeds LIST         seeds, one run of every variant each (default 0)\n" +
        "  --model NAME         small (the shipped architecture, default) or tiny (smoke tests)\n" +
        "  --layers N           transformer layers (default 6)\n" +
        "  --caption-dropout X  probability of the empty prompt (default 0.1)\n" +
        "  --latent-cache DIR   shared latent cache (default DIR/latents)\n" +
        "  --init MODEL_DIR     start every run from this model folder's transformer and text encoder (as 'train dit --init';\n" +
        "                       the architecture options must match it) instead of the seed's random weights\n" +
        "  --summary-only       rewrite the summary from the runs' logs without training\n" +
        FlowLossArgs.SharedUsage.Replace("(0: off)", "(default 4)", StringComparison.Ordinal) +
        "  training options as for 'train dit': --batch --lr --warmup --min-lr --weight-decay --ema --clip --checkpoint-every\n" +
        "    --validate-every (default steps/20) --log-every --frames --height --width --train-clips --val-clips\n";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var vae = args.String("vae") ?? throw new UsageException("--vae DIR is required");
        if (args.String("steps") is null) throw new UsageException("--steps N is required");
        if (args.String("stop-after") is not null || args.Flag("resume"))
            throw new UsageException("the experiment resumes by itself; run the same command again instead of --resume/--stop-after");
        if (args.String("seed") is not null) throw new UsageException("use --seeds LIST (one run of every variant per seed)");
        var model = (args.String("model") ?? "small").ToLowerInvariant();
        var baseOptions = model switch
        {
            "small" => new DitTrainingOptions { OutputDirectory = TrainArgs.Out(args), VaeDirectory = vae },
            "tiny" => new DitTrainingOptions
            {
                OutputDirectory = TrainArgs.Out(args), VaeDirectory = vae, Model = WanTransformerConfig.Tiny,
                TextEncoder = WordTextEncoderConfig.Tiny with { MaxLength = 32 },
            },
            _ => throw new UsageException($"--model must be small or tiny, got '{model}'"),
        };
        var o = TrainArgs.Read(args, baseOptions);
        o = o with
        {
            Model = o.Model with { NumLayers = args.Int("layers", o.Model.NumLayers) },
            CaptionDropout = args.Float("caption-dropout", o.CaptionDropout),
            LatentCacheDirectory = args.String("latent-cache"),
            InitDirectory = args.String("init"),
            ValidateEvery = args.String("validate-every") is null ? Math.Max(1, o.Steps / 20) : o.ValidateEvery,
        };
        var validation = FlowLossArgs.ReadValidation(args, 4) ?? throw new UsageException("--val-flow must be at least 1: the experiment compares motion curves");
        var experiment = new FlowLossExperimentOptions
        {
            Base = o,
            Variants = args.String("variants") is { } v ? ParseVariants(v) : Enum.GetValues<FlowLossVariant>(),
            Psis = args.String("psi") is { } p ? FlowLossArgs.ParseList("psi", p) : new[] { 0.25, 0.5, 1.0 },
            Seeds = args.String("seeds") is { } s ? ParseSeeds(s) : new ulong[] { 0 },
            FlowLoss = FlowLossArgs.ReadShared(args),
            Validation = validation,
        };
        bool summaryOnly = args.Flag("summary-only");
        args.EnsureAllUsed(0);
        try { experiment.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var summary = summaryOnly ? FlowLossExperiment.WriteSummary(experiment) : FlowLossExperiment.Run(experiment, output, cancel);
        output.WriteLine($"experiment flowloss: summary written to {summary}");
        return 0;
    }

    private static FlowLossVariant[] ParseVariants(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v.ToLowerInvariant() switch
        {
            "recon" => FlowLossVariant.Reconstruction,
            "gate" => FlowLossVariant.Gated,
            "ss" => FlowLossVariant.SmallSigma,
            "ls" => FlowLossVariant.LargeSigma,
            _ => throw new UsageException($"--variants takes recon, gate, ss and ls, got '{v}'"),
        }).ToArray();

    private static ulong[] ParseSeeds(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
            ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
                : throw new UsageException($"--seeds expects non-negative integers, got '{s}'")).ToArray();
}
