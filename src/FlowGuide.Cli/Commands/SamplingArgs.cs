using System.Text.Json.Nodes;
using System.Text.Json;
using FlowGuide.Sampling;

namespace FlowGuide.Cli;

/// <summary>A loaded model folder with the generation options a command resolved against its defaults.</summary>
/// <param name="Model">The model (frozen, eval mode).</param>
/// <param name="Options">The model's defaults with every given option applied; the seed set.</param>
internal sealed record LoadedModel(ShippedModel Model, GenerationOptions Options);

/// <summary>
/// The sampling options every command that runs the text-to-video pipeline shares (<c>generate</c>, <c>transfer</c>):
/// <c>--negative --seed --steps --cfg --shift --sampler --frames --model</c>. <see cref="Read"/> checks what can be
/// checked without the model (usage errors, exit 2); <see cref="Load"/> loads the folder and checks the rest (a frame count
/// the VAE cannot take, prompt words outside the vocabulary) before any sampling.
/// </summary>
internal sealed record SamplingArgs(string Negative, ulong Seed, string? ModelPath, int? Steps, float? Cfg, float? Shift, int? Frames, SamplerKind? Sampler)
{
    /// <summary>
    /// The sampling settings of a run as metadata fields, named alike in generate's and transfer's metadata files and in
    /// eval's run.json: negative prompt, steps, guidance scale, shift, sampler, frames, size, fps and model folder.
    /// </summary>
    internal static JsonObject SettingsJson(GenerationOptions o, double fps, string modelDirectory) => new()
    {
        ["negative_prompt"] = o.NegativePrompt,
        ["steps"] = o.Steps,
        ["guidance_scale"] = (double)(decimal)o.GuidanceScale,
        ["shift"] = o.Shift,
        ["sampler"] = o.Sampler == SamplerKind.Euler ? "euler" : "unipc",
        ["frames"] = o.Frames,
        ["height"] = o.Height,
        ["width"] = o.Width,
        ["fps"] = fps,
        ["model"] = modelDirectory,
    };

    /// <summary>Output metadata: generator, prompt, seed, the sampling settings, then <paramref name="extra"/> fields.</summary>
    internal static string MetadataJson(string generator, string prompt, GenerationOptions o, ShippedModel model, double fps, params (string Key, JsonNode? Value)[] extra)
    {
        var j = new JsonObject { ["generator"] = generator, ["prompt"] = prompt, ["seed"] = o.Seed };
        foreach (var (k, v) in SettingsJson(o, fps, model.Directory).ToList()) j[k] = v?.DeepClone();
        foreach (var (k, v) in extra) j[k] = v?.DeepClone();
        return j.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    public const string Usage =
        "  --negative TEXT     negative prompt for classifier-free guidance (default empty)\n" +
        "  --seed N            random seed (default: a random one, printed and stored in the metadata)\n" +
        "  --steps N           sampling steps (model default)\n" +
        "  --cfg X             guidance scale (model default; 1 disables the unconditional pass)\n" +
        "  --shift X           flow shift of the sigma schedule (model default)\n" +
        "  --sampler NAME      euler or unipc (model default)\n" +
        "  --frames N          frame count, k*T+1 for the VAE's temporal factor T (model default)\n" +
        "  --model DIR         model folder (default " + GenerateCommand.DefaultModelPath + " in the FlowGuide checkout)\n";

    /// <summary>Reads the options (marking them used); range mistakes are <see cref="UsageException"/>s.</summary>
    public static SamplingArgs Read(Args args)
    {
        var negative = args.String("negative", "");
        ulong seed = args.Seed("seed", (ulong)Random.Shared.NextInt64(0, 1L << 31));
        var modelArg = args.String("model");
        var (steps, cfg, shift) = ReadSchedule(args);
        int? frames = args.String("frames") is null ? null : args.Int("frames", 0);
        var samplerName = args.String("sampler");
        if (frames is < 1) throw new UsageException($"--frames must be positive, got {frames}");
        SamplerKind? sampler = samplerName is null ? null
            : samplerName.ToLowerInvariant() switch { "euler" => SamplerKind.Euler, "unipc" => SamplerKind.UniPc,
                _ => throw new UsageException($"--sampler must be euler or unipc, got '{samplerName}'") };
        return new SamplingArgs(negative, seed, modelArg, steps, cfg, shift, frames, sampler);
    }

    /// <summary>--steps, --cfg and --shift as given (null when absent; marked used); steps and shift range-checked.</summary>
    public static (int? Steps, float? Cfg, float? Shift) ReadSchedule(Args args)
    {
        int? steps = args.String("steps") is null ? null : args.Int("steps", 0);
        float? cfg = args.String("cfg") is null ? null : args.Float("cfg", 0);
        float? shift = args.String("shift") is null ? null : args.Float("shift", 0);
        if (steps is < 1) throw new UsageException($"--steps must be at least 1, got {steps}");
        if (shift is <= 0) throw new UsageException($"--shift must be positive, got {shift}");
        return (steps, cfg, shift);
    }

    /// <summary>
    /// Loads the model folder (<c>--model</c>, or the checkout's shipped model), applies the options over its defaults,
    /// checks the frame count against the VAE and every word of <paramref name="prompts"/> and the negative prompt
    /// against the vocabulary (each error names what is wrong).
    /// </summary>
    public LoadedModel Load(params string[] prompts)
    {
        var model = ShippedModel.Load(ModelPath ?? GenerateCommand.FindDefaultModel());
        var d = model.Defaults;
        var options = d.ToOptions(Seed) with
        {
            NegativePrompt = Negative,
            Steps = Steps ?? d.Steps,
            GuidanceScale = Cfg ?? d.GuidanceScale,
            Shift = Shift ?? d.Shift,
            Sampler = Sampler ?? d.Sampler,
            Frames = Frames ?? d.Frames,
        };
        int tf = model.Vae.TemporalFactor;
        if ((options.Frames - 1) % tf != 0)
        {
            int lo = (options.Frames - 1) / tf * tf + 1;
            throw new ArgumentException($"--frames {options.Frames} is not of the form {tf}k+1 (try {lo} or {lo + tf}).");
        }
        foreach (var p in prompts) model.TextEncoder.Tokenize(p); // names every unknown word
        model.TextEncoder.Tokenize(Negative);
        return new LoadedModel(model, options);
    }
}
