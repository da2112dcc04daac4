using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

public sealed partial class WanTransformer3D
{
    /// <summary>Name of the weights file (or of the sharded index's base) in a diffusers model folder.</summary>
    public const string WeightsBaseName = "diffusion_pytorch_model";

    /// <summary>
    /// Loads a transformer from a diffusers model folder (<c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>
    /// or a sharded <c>.safetensors.index.json</c>), a pipeline folder holding it under <c>transformer/</c>, or a weights
    /// file / index whose folder holds config.json. BF16, F16 and F32 weights are converted to float32 straight into the
    /// parameters, one tensor at a time from the memory-mapped file. Strict mode throws
    /// <see cref="StateDictMismatchException"/> listing every missing, unexpected or mis-shaped key.
    /// </summary>
    public static WanTransformer3D Load(string pathOrDir, bool strict = true) => Load(pathOrDir, out _, strict);

    /// <summary>As <see cref="Load(string, bool)"/>, also returning what matched (useful with <paramref name="strict"/> false).</summary>
    public static WanTransformer3D Load(string pathOrDir, out LoadReport report, bool strict = true)
    {
        var (configPath, weightsPath) = Resolve(pathOrDir);
        var config = WanTransformerConfig.Load(configPath);
        using var checkpoint = SafeTensorsCheckpoint.Open(weightsPath);
        var model = CreateEmpty(config);
        report = model.LoadStateDict(checkpoint.Names, n => checkpoint.GetInfo(n).Shape, (n, dst) => checkpoint.LoadInto(n, dst), strict);
        return model;
    }

    /// <summary>
    /// Writes <c>config.json</c> and the weights (encoded as <paramref name="storeAs"/>: F32, BF16 or F16) into
    /// <paramref name="directory"/> in the diffusers layout, so <see cref="Load(string, bool)"/> and diffusers both read it.
    /// With <paramref name="maxShardBytes"/> the weights are split into shards plus a
    /// <c>diffusion_pytorch_model.safetensors.index.json</c>. Each file is written to a temporary name and renamed.
    /// </summary>
    public void Save(string directory, DType storeAs = DType.F32, long? maxShardBytes = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (storeAs is not (DType.F32 or DType.BF16 or DType.F16))
            throw new ArgumentException($"WanTransformer3D.Save: weights can be stored as F32, BF16 or F16, not {storeAs}.", nameof(storeAs));
        Directory.CreateDirectory(directory);
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        var tensors = NamedParameters().Select(p => (p.Key, p.Value));
        if (maxShardBytes is { } max)
            SafeTensorsWriter.WriteSharded(directory, WeightsBaseName, tensors, max, metadata, storeAs);
        else
            SafeTensorsWriter.Write(Path.Combine(directory, WeightsBaseName + ".safetensors"), tensors, metadata, storeAs);
        Config.Save(Path.Combine(directory, "config.json"));
    }

    /// <summary>Finds config.json and the weights (file, index or folder) for <see cref="Load(string, bool)"/>.</summary>
    private static (string Config, string Weights) Resolve(string pathOrDir)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrDir);
        string full = Path.GetFullPath(pathOrDir);
        if (File.Exists(full))
        {
            string dir = Path.GetDirectoryName(full)!;
            string weights = Path.GetFileName(full) == "config.json" ? dir : full;
            return (RequireConfig(dir, pathOrDir), weights);
        }
        if (!Directory.Exists(full))
            throw new FileNotFoundException($"WanTransformer3D.Load: '{pathOrDir}' is neither a file nor a folder.", pathOrDir);
        string sub = Path.Combine(full, "transformer");
        if (!File.Exists(Path.Combine(full, "config.json")) && File.Exists(Path.Combine(sub, "config.json")))
            full = sub; // a diffusers pipeline folder
        return (RequireConfig(full, pathOrDir), full);
    }

    private static string RequireConfig(string dir, string given)
    {
        string p = Path.Combine(dir, "config.json");
        if (!File.Exists(p))
            throw new FileNotFoundException($"WanTransformer3D.Load: no config.json next to '{given}' (looked for '{p}'); a diffusers transformer folder holds config.json and the safetensors weights.", p);
        return p;
    }
}
