using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Cli;

/// <summary>
/// <c>flowguide model convert</c>: re-saves a model folder with its weights in another float type — how the shipped model
/// goes from the trainer's float32 export to the F16 folder under models/ (half the size; loading converts back).
/// </summary>
public sealed class ModelConvertCommand : Command
{
    public override string Name => "model convert";
    public override string Summary => "re-save a model folder with weights in f16, bf16 or f32";
    public override string Usage =>
        "flowguide model convert --from DIR --to DIR [--dtype f16|bf16|f32] [--cfg X] [--steps N] [--shift X]\n\n" +
        "Loads the model folder DIR (model_index.json, transformer/, vae/, text_encoder/) and writes it to the new folder with\n" +
        "the weights stored as --dtype (default f16). The target is written beside itself and renamed into place, so an\n" +
        "interrupted run leaves no half-written folder; an existing target is an error.\n" +
        "--cfg, --steps and --shift replace the sampling defaults written into the new model_index.json (what 'generate'\n" +
        "uses when not told otherwise); the weights are unchanged.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var from = args.String("from") ?? throw new UsageException("--from DIR is required");
        var to = args.String("to") ?? throw new UsageException("--to DIR is required");
        var dtypeName = args.String("dtype", "f16").ToLowerInvariant();
        var (steps, cfg, shift) = SamplingArgs.ReadSchedule(args);
        args.EnsureAllUsed(0);
        if (cfg is < 1f) throw new UsageException($"--cfg must be at least 1, got {cfg}");
        var dtype = dtypeName switch
        {
            "f16" or "fp16" or "float16" => DType.F16,
            "bf16" or "bfloat16" => DType.BF16,
            "f32" or "fp32" or "float32" => DType.F32,
            _ => throw new UsageException($"--dtype must be f16, bf16 or f32, got '{dtypeName}'"),
        };
        var target = Path.GetFullPath(to);
        if (Directory.Exists(target) || File.Exists(target))
            throw new IOException($"'{to}' already exists; remove it or choose another --to folder.");
        var model = ShippedModel.Load(from);
        var defaults = model.Defaults with
        {
            GuidanceScale = cfg ?? model.Defaults.GuidanceScale,
            Steps = steps ?? model.Defaults.Steps,
            Shift = shift ?? model.Defaults.Shift,
        };
        var tmp = target.TrimEnd(Path.DirectorySeparatorChar) + ".tmp-" + Environment.ProcessId;
        try
        {
            ShippedModel.Save(tmp, model.Transformer, model.Vae, model.TextEncoder, defaults, dtype);
            Directory.Move(tmp, target);
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
        long bytes = new DirectoryInfo(target).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        output.WriteLine($"model convert: wrote {to} ({dtypeName}, {bytes / 1e6:F1} MB)");
        return 0;
    }
}
