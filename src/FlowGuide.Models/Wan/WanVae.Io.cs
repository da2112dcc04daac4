using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

public sealed partial class WanVae
{
    /// <summary>File name of the config in a diffusers-layout VAE directory.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>File name of the weights in a diffusers-layout VAE directory (sharded checkpoints use its <c>.index.json</c>).</summary>
    public const string WeightsFileName = "diffusion_pytorch_model.safetensors";

    /// <summary>
    /// Loads a diffusers-layout VAE directory (e.g. the <c>vae/</c> folder of Wan2.1-T2V-1.3B-Diffusers): config.json plus
    /// diffusion_pytorch_model.safetensors (or its sharded index). Weights of any float dtype are converted straight into
    /// the float32 parameters. <paramref name="strict"/> requires the keys and shapes to match exactly and otherwise
    /// throws a <see cref="StateDictMismatchException"/> listing every difference.
    /// </summary>
    public static WanVae Load(string directory, bool strict = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"WanVae.Load: directory '{directory}' does not exist.");
        string configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"WanVae.Load: '{directory}' has no {ConfigFileName}.", configPath);
        var config = WanVaeConfig.FromJson(File.ReadAllText(configPath));
        var vae = new WanVae(config);
        using (var reader = SafeTensorsCheckpoint.Open(directory))
            vae.LoadStateDict(reader.Names, k => reader.GetInfo(k).Shape, (k, dst) => reader.LoadInto(k, dst), strict);
        vae.Eval();
        return vae;
    }

    /// <summary>
    /// Writes config.json and diffusion_pytorch_model.safetensors (float32, or <paramref name="storeAs"/>) into
    /// <paramref name="directory"/>, creating it if needed; <see cref="Load"/> reads it back, and so does diffusers'
    /// <c>AutoencoderKLWan.from_pretrained</c>. Each file is written to a temporary name and renamed into place.
    /// </summary>
    public void Save(string directory, DType storeAs = DType.F32)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        SafeTensorsWriter.Write(Path.Combine(directory, WeightsFileName), StateDict(),
            new Dictionary<string, string> { ["format"] = "pt" }, storeAs);
        string configPath = Path.Combine(directory, ConfigFileName);
        string tmp = configPath + ".tmp";
        File.WriteAllText(tmp, Config.ToJson());
        File.Move(tmp, configPath, overwrite: true);
    }
}
