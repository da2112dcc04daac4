using System.Text.Json.Nodes;
using FlowGuide.Models.Wan;
using FlowGuide.Nn;

namespace FlowGuide.Models.Video;

/// <summary>Opens a VAE folder of either kind FlowGuide knows, by the <c>_class_name</c> in its config.json.</summary>
public static class VideoAutoencoders
{
    public const string ConfigFileName = "config.json";
    public const string WeightsFileName = "diffusion_pytorch_model.safetensors";

    /// <summary>
    /// <see cref="CompactVae"/> for <c>FlowGuideCompactVae</c>, <see cref="WanVae"/> for <c>AutoencoderKLWan</c> (or no
    /// class name, as older FlowGuide folders wrote); anything else is an error naming the class and the folder.
    /// </summary>
    public static IVideoAutoencoder Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"VAE folder '{directory}' does not exist.");
        string configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"VAE folder '{directory}' has no {ConfigFileName}.", configPath);
        string? name;
        try { name = JsonNode.Parse(File.ReadAllText(configPath))?["_class_name"]?.GetValue<string>(); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"'{configPath}' is not valid JSON ({e.Message}).", e); }
        return name switch
        {
            CompactVaeConfig.ClassName => CompactVae.Load(directory),
            null or "AutoencoderKLWan" => WanVae.Load(directory),
            _ => throw new InvalidDataException($"VAE folder '{directory}': unknown _class_name '{name}' (expected {CompactVaeConfig.ClassName} or AutoencoderKLWan)."),
        };
    }

    /// <summary>The module behind an autoencoder FlowGuide built (for freezing, hashing and saving).</summary>
    public static Module AsModule(IVideoAutoencoder vae) =>
        vae as Module ?? throw new ArgumentException($"{vae.GetType().Name} is not a FlowGuide module.", nameof(vae));
}
