using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models;

/// <summary>
/// FlowGuide's folder format for a small model of its own (the MotionPrompt discriminator, the latent motion
/// classifier): <c>config.json</c> holding <c>_class_name</c>, the sizes and an optional "training" object, beside
/// <c>model.safetensors</c>. Both files are written through a temporary name; reading checks both exist first and
/// names what is missing.
/// </summary>
internal static class ConfigFolder
{
    public const string ConfigFileName = "config.json";
    public const string WeightsFileName = "model.safetensors";

    /// <summary>Writes <paramref name="model"/>'s weights and a config of <paramref name="className"/>, <paramref name="config"/>'s keys and <paramref name="training"/>.</summary>
    public static void Save(Module model, string directory, string className, JsonObject config, JsonObject? training)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        model.SaveSafeTensors(Path.Combine(directory, WeightsFileName), metadata: new Dictionary<string, string> { ["format"] = "flowguide" });
        var o = new JsonObject { ["_class_name"] = className };
        foreach (var kv in config) o[kv.Key] = kv.Value?.DeepClone();
        if (training is not null) o["training"] = training.DeepClone();
        var path = Path.Combine(directory, ConfigFileName);
        File.WriteAllText(path + ".tmp", o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>
    /// Checks the folder and both files (DirectoryNotFound / FileNotFound naming the path; messages start with
    /// <paramref name="owner"/>, and a missing folder is called a <paramref name="kind"/> folder) and parses the config
    /// (<see cref="InvalidDataException"/> when it is not a JSON object). Returns it, its path and a copy of its "training" object.
    /// </summary>
    public static (JsonObject Config, string ConfigPath, JsonObject? Training) ReadConfig(string directory, string owner, string kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{owner}: {kind} folder '{directory}' does not exist.");
        var configPath = Path.Combine(directory, ConfigFileName);
        foreach (var p in new[] { configPath, Path.Combine(directory, WeightsFileName) })
            if (!File.Exists(p)) throw new FileNotFoundException($"{owner}: '{directory}' has no {Path.GetFileName(p)} (looked for '{p}').", p);
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new JsonException("the top level is not an object"); }
        catch (JsonException ex) { throw new InvalidDataException($"{owner}: '{configPath}' is not valid JSON: {ex.Message}", ex); }
        return (o, configPath, o["training"] as JsonObject is { } t ? (JsonObject)t.DeepClone() : null);
    }

    /// <summary>
    /// Builds the model with <paramref name="create"/> and loads the folder's weights into it strictly
    /// (<see cref="StateDictMismatchException"/> on a mismatch), then freezes it and sets eval mode. Both happen outside any
    /// open <see cref="TensorScope"/>, so the weights last when a model is read lazily in the middle of a scoped run.
    /// </summary>
    public static T LoadWeights<T>(Func<T> create, string directory) where T : Module
    {
        ArgumentNullException.ThrowIfNull(create);
        var weightsPath = Path.Combine(directory, WeightsFileName);
        // the weights must outlive any TensorScope open around the call (a model read lazily during a scoped run)
        using var _ = TensorScope.Suspend();
        var model = create();
        using (var reader = SafeTensorsCheckpoint.Open(weightsPath))
            model.LoadFrom(reader, strict: true, source: weightsPath);
        model.Freeze();
        model.Eval();
        return model;
    }
}
