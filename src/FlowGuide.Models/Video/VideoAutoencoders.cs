using System.Text.Json.Nodes;
using FlowGuide.Models.Wan;
using FlowGuide.Nn;
using FlowGuide.Tensors;

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
        var (name, _) = ReadConfig(directory);
        return name switch
        {
            CompactVaeConfig.ClassName => CompactVae.Load(directory),
            _ => WanVae.Load(directory),
        };
    }

    /// <summary>The latent channels of a VAE folder, from its config.json alone (no weights are read).</summary>
    public static int LatentChannels(string directory)
    {
        var (name, json) = ReadConfig(directory);
        return name == CompactVaeConfig.ClassName ? CompactVaeConfig.FromJson(json).ZDim : WanVaeConfig.FromJson(json).ZDim;
    }

    /// <summary>The folder's config.json text and <c>_class_name</c>, checked to be one <see cref="Load"/> knows.</summary>
    private static (string? ClassName, string Json) ReadConfig(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"VAE folder '{directory}' does not exist.");
        string configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"VAE folder '{directory}' has no {ConfigFileName}.", configPath);
        string json = File.ReadAllText(configPath);
        string? name;
        try { name = JsonNode.Parse(json)?["_class_name"]?.GetValue<string>(); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"'{configPath}' is not valid JSON ({e.Message}).", e); }
        if (name is not (CompactVaeConfig.ClassName or null or "AutoencoderKLWan"))
            throw new InvalidDataException($"VAE folder '{directory}': unknown _class_name '{name}' (expected {CompactVaeConfig.ClassName} or AutoencoderKLWan).");
        return (name, json);
    }

    /// <summary>
    /// <see cref="Load"/> with every weight frozen (the loaders already return eval mode): the form trainers and
    /// pipelines that only encode or decode use.
    /// </summary>
    public static IVideoAutoencoder LoadFrozen(string directory)
    {
        var vae = Load(directory);
        AsModule(vae).Freeze();
        return vae;
    }

    /// <summary>
    /// Writes <paramref name="vae"/> to <paramref name="directory"/> in the layout <see cref="Load"/> reads back, weights as
    /// <paramref name="storeAs"/>; an autoencoder of another kind is an error naming its type.
    /// </summary>
    public static void Save(IVideoAutoencoder vae, string directory, DType storeAs = DType.F32)
    {
        switch (vae)
        {
            case WanVae wan: wan.Save(directory, storeAs); break;
            case CompactVae compact: compact.Save(directory, storeAs); break;
            default: throw new ArgumentException($"cannot save a {vae.GetType().Name}; expected WanVae or CompactVae.", nameof(vae));
        }
    }

    /// <summary>The module behind an autoencoder FlowGuide built (for freezing, hashing and saving).</summary>
    public static Module AsModule(IVideoAutoencoder vae) =>
        vae as Module ?? throw new ArgumentException($"{vae.GetType().Name} is not a FlowGuide module.", nameof(vae));
}
