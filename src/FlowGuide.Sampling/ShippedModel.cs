using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Models.Text;
using FlowGuide.Models;
using FlowGuide.Models.Video;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Sampling;

/// <summary>
/// The defaults a model folder recommends (<c>model_index.json</c> "defaults"): the size it was trained at and the
/// sampler settings that work for it. The CLI uses them unless an option overrides one.
/// </summary>
public sealed record ModelDefaults
{
    public int Frames { get; init; } = 17;
    public int Height { get; init; } = 64;
    public int Width { get; init; } = 64;
    public int Steps { get; init; } = 20;
    public float GuidanceScale { get; init; } = 5f;
    public double Shift { get; init; } = 3.0;
    public SamplerKind Sampler { get; init; } = SamplerKind.UniPc;
    /// <summary>Frame rate written into GIF/MP4 outputs.</summary>
    public double Fps { get; init; } = 8;
    /// <summary>
    /// Strength of motion classifier guidance when the folder has a <c>motion_classifier/</c> (<c>model_index.json</c>
    /// "motion_guidance_scale"; 0, the default, leaves it off unless asked for).
    /// </summary>
    public double MotionGuidanceScale { get; init; }
    /// <summary>
    /// Initial noises motion guidance chooses among (<c>model_index.json</c> "motion_candidates"; 1, the default: no search).
    /// </summary>
    public int MotionCandidates { get; init; } = 1;
    /// <summary>
    /// Motion guidance leaves a prompt unguided when the classifier's validation accuracy on its class is below this
    /// (<c>model_index.json</c> "motion_min_class_accuracy"; 0, the default: guide every class).
    /// </summary>
    public double MotionMinClassAccuracy { get; init; }

    /// <summary>Generation options with these defaults and <paramref name="seed"/>.</summary>
    public GenerationOptions ToOptions(ulong seed) => new()
    {
        Frames = Frames, Height = Height, Width = Width, Steps = Steps, GuidanceScale = GuidanceScale,
        Shift = Shift, Sampler = Sampler, Seed = seed,
    };
}

/// <summary>
/// A self-contained text-to-video model folder, the form FlowGuide ships its own model in:
/// <code>
/// model_index.json      names of the parts and <see cref="ModelDefaults"/>
/// transformer/          config.json + diffusion_pytorch_model.safetensors  (<see cref="WanTransformer3D.Save"/>)
/// vae/                  config.json + diffusion_pytorch_model.safetensors  (<see cref="CompactVae.Save"/> or <see cref="WanVae.Save"/>, with fitted latents_mean/std)
/// text_encoder/         config.json + model.safetensors + vocab.txt        (<see cref="WordTextEncoderFiles"/>)
/// </code>
/// <see cref="Load"/> checks every file first and names the first missing one, then builds a ready
/// <see cref="TextToVideoPipeline"/> with frozen, eval-mode weights.
/// </summary>
public sealed class ShippedModel
{
    public const string IndexFileName = "model_index.json";
    public const string ClassName = "FlowGuideTextToVideo";

    private ShippedModel(string directory, ModelDefaults defaults, WanTransformer3D transformer, IVideoAutoencoder vae, WordTextEncoder textEncoder)
    {
        Directory = directory;
        Defaults = defaults;
        Transformer = transformer;
        Vae = vae;
        TextEncoder = textEncoder;
        Pipeline = new TextToVideoPipeline(transformer, textEncoder, vae);
    }

    /// <summary>The folder the model was loaded from (full path).</summary>
    public string Directory { get; }
    public ModelDefaults Defaults { get; }
    public WanTransformer3D Transformer { get; }
    /// <summary>The autoencoder: a <see cref="CompactVae"/> for FlowGuide's own model, a <see cref="WanVae"/> for Wan2.1 folders.</summary>
    public IVideoAutoencoder Vae { get; }
    public WordTextEncoder TextEncoder { get; }
    public TextToVideoPipeline Pipeline { get; }

    /// <summary>
    /// Loads a model folder. A missing folder throws <see cref="DirectoryNotFoundException"/>, a missing file
    /// <see cref="FileNotFoundException"/>, each naming the path it looked for.
    /// </summary>
    public static ShippedModel Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir))
            throw new DirectoryNotFoundException($"model folder '{directory}' does not exist.");
        var indexPath = RequireFile(dir, IndexFileName);
        var (parts, defaults) = ReadIndex(indexPath);
        string transformerDir = RequireFolder(dir, parts["transformer"]);
        RequireFile(transformerDir, "config.json");
        RequireFile(transformerDir, WanTransformer3D.WeightsBaseName + ".safetensors");
        string vaeDir = RequireFolder(dir, parts["vae"]);
        RequireFile(vaeDir, VideoAutoencoders.ConfigFileName);
        RequireFile(vaeDir, VideoAutoencoders.WeightsFileName);
        string textDir = RequireFolder(dir, parts["text_encoder"]);
        RequireFile(textDir, WordTextEncoderFiles.ConfigFileName);
        RequireFile(textDir, WordTextEncoderFiles.WeightsFileName);
        RequireFile(textDir, WordTextEncoderFiles.VocabularyFileName);

        var transformer = WanTransformer3D.Load(transformerDir);
        var vae = VideoAutoencoders.Load(vaeDir);
        var text = WordTextEncoderFiles.Load(textDir);
        if (transformer.Config.TextDim != text.OutputDim)
            throw new InvalidDataException($"model folder '{directory}': the transformer expects text width {transformer.Config.TextDim}, the text encoder gives {text.OutputDim}.");
        if (transformer.Config.InChannels != vae.LatentChannels || transformer.Config.OutChannels != vae.LatentChannels)
            throw new InvalidDataException($"model folder '{directory}': the transformer's channels ({transformer.Config.InChannels}->{transformer.Config.OutChannels}) do not match the VAE's {vae.LatentChannels} latent channels.");
        foreach (var m in new FlowGuide.Nn.Module[] { transformer, VideoAutoencoders.AsModule(vae), text }) { m.Freeze(); m.Eval(); }
        return new ShippedModel(dir, defaults, transformer, vae, text);
    }

    /// <summary>
    /// Writes a complete model folder: the three parts in their own subfolders, then model_index.json last (so a folder
    /// with an index is complete). Existing files are replaced. Weights are stored as <paramref name="storeAs"/> (F16 halves
    /// the folder; loading converts back to float32).
    /// </summary>
    public static void Save(string directory, WanTransformer3D transformer, IVideoAutoencoder vae, WordTextEncoder textEncoder, ModelDefaults defaults, DType storeAs = DType.F32)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(textEncoder);
        ArgumentNullException.ThrowIfNull(defaults);
        System.IO.Directory.CreateDirectory(directory);
        transformer.Save(Path.Combine(directory, "transformer"), storeAs);
        VideoAutoencoders.Save(vae, Path.Combine(directory, "vae"), storeAs);
        WordTextEncoderFiles.Save(textEncoder, Path.Combine(directory, "text_encoder"), storeAs);
        var index = new JsonObject
        {
            ["_class_name"] = ClassName,
            ["transformer"] = "transformer",
            ["vae"] = "vae",
            ["text_encoder"] = "text_encoder",
            ["defaults"] = new JsonObject
            {
                ["frames"] = defaults.Frames,
                ["height"] = defaults.Height,
                ["width"] = defaults.Width,
                ["steps"] = defaults.Steps,
                ["guidance_scale"] = (double)(decimal)defaults.GuidanceScale,
                ["shift"] = defaults.Shift,
                ["sampler"] = defaults.Sampler == SamplerKind.Euler ? "euler" : "unipc",
                ["fps"] = defaults.Fps,
            },
        };
        var written = (JsonObject)index["defaults"]!;
        if (defaults.MotionGuidanceScale > 0) written["motion_guidance_scale"] = defaults.MotionGuidanceScale;
        if (defaults.MotionCandidates > 1) written["motion_candidates"] = defaults.MotionCandidates;
        if (defaults.MotionMinClassAccuracy > 0) written["motion_min_class_accuracy"] = defaults.MotionMinClassAccuracy;
        var path = Path.Combine(directory, IndexFileName);
        File.WriteAllText(path + ".tmp", index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>"euler" or "unipc" (any case) to a <see cref="SamplerKind"/>; anything else throws naming the value.</summary>
    public static SamplerKind ParseSampler(string name) => name.ToLowerInvariant() switch
    {
        "euler" => SamplerKind.Euler,
        "unipc" => SamplerKind.UniPc,
        _ => throw new ArgumentException($"unknown sampler '{name}'; expected euler or unipc."),
    };

    private static (Dictionary<string, string> Parts, ModelDefaults Defaults) ReadIndex(string path)
    {
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new FormatException("the top level is not an object");
            var parts = new Dictionary<string, string>();
            foreach (var k in new[] { "transformer", "vae", "text_encoder" })
                parts[k] = o[k]?.GetValue<string>() ?? k;
            var d = new ModelDefaults();
            if (o["defaults"] is JsonObject j)
            {
                d = new ModelDefaults
                {
                    Frames = j["frames"]?.GetValue<int>() ?? d.Frames,
                    Height = j["height"]?.GetValue<int>() ?? d.Height,
                    Width = j["width"]?.GetValue<int>() ?? d.Width,
                    Steps = j["steps"]?.GetValue<int>() ?? d.Steps,
                    GuidanceScale = j["guidance_scale"] is { } g ? (float)g.GetValue<double>() : d.GuidanceScale,
                    Shift = j["shift"]?.GetValue<double>() ?? d.Shift,
                    Sampler = j["sampler"] is { } s ? ParseSampler(s.GetValue<string>()) : d.Sampler,
                    Fps = j["fps"]?.GetValue<double>() ?? d.Fps,
                    MotionGuidanceScale = j["motion_guidance_scale"]?.GetValue<double>() ?? d.MotionGuidanceScale,
                    MotionCandidates = j["motion_candidates"]?.GetValue<int>() ?? d.MotionCandidates,
                    MotionMinClassAccuracy = j["motion_min_class_accuracy"]?.GetValue<double>() ?? d.MotionMinClassAccuracy,
                };
                if (!(d.MotionMinClassAccuracy >= 0 && d.MotionMinClassAccuracy <= 1))
                    throw new FormatException($"motion_min_class_accuracy must be in [0, 1], got {d.MotionMinClassAccuracy}");
                if (d.MotionCandidates < 1 || d.MotionCandidates > 64)
                    throw new FormatException($"motion_candidates must be in [1, 64], got {d.MotionCandidates}");
                if (!(d.MotionGuidanceScale >= 0) || double.IsInfinity(d.MotionGuidanceScale))
                    throw new FormatException($"motion_guidance_scale must be finite and >= 0, got {d.MotionGuidanceScale}");
            }
            return (parts, d);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"'{path}' is not a valid {IndexFileName}: {ex.Message}"), ex);
        }
    }

    private static string RequireFile(string dir, string name)
    {
        var p = Path.Combine(dir, name);
        if (!File.Exists(p)) throw new FileNotFoundException($"model folder is incomplete: '{p}' is missing.", p);
        return p;
    }

    private static string RequireFolder(string dir, string name)
    {
        var p = Path.Combine(dir, name);
        if (!System.IO.Directory.Exists(p)) throw new DirectoryNotFoundException($"model folder is incomplete: folder '{p}' is missing.");
        return p;
    }
}
