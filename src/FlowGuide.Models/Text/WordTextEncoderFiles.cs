using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Text;

/// <summary>
/// The on-disk form of a <see cref="WordTextEncoder"/>: a folder with <c>config.json</c> (width, layers, heads,
/// max_length, ffn_dim, eps), <c>model.safetensors</c> (float32 weights, the encoder's own parameter names) and
/// <c>vocab.txt</c> (one word per line, id = line number). Every file is written through a temporary name.
/// </summary>
public static class WordTextEncoderFiles
{
    public const string ConfigFileName = "config.json";
    public const string WeightsFileName = "model.safetensors";
    public const string VocabularyFileName = "vocab.txt";

    /// <summary>Writes the three files into <paramref name="directory"/> (created if needed), weights as <paramref name="storeAs"/>.</summary>
    public static void Save(WordTextEncoder encoder, string directory, DType storeAs = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        encoder.Vocabulary.Save(Path.Combine(directory, VocabularyFileName));
        encoder.SaveSafeTensors(Path.Combine(directory, WeightsFileName), metadata: new Dictionary<string, string> { ["format"] = "flowguide" }, storeAs: storeAs);
        var c = encoder.Config;
        var o = new JsonObject
        {
            ["_class_name"] = "WordTextEncoder",
            ["width"] = c.Width,
            ["layers"] = c.Layers,
            ["heads"] = c.Heads,
            ["max_length"] = c.MaxLength,
            ["ffn_dim"] = c.FfnDim,
            ["eps"] = (double)(decimal)c.Eps,
        };
        var path = Path.Combine(directory, ConfigFileName);
        File.WriteAllText(path + ".tmp", o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>
    /// Reads a folder written by <see cref="Save"/>. A missing folder or file throws a FileNotFound/DirectoryNotFound
    /// exception naming the path; a weight file that does not match the config throws <see cref="StateDictMismatchException"/>.
    /// The encoder comes back in eval mode.
    /// </summary>
    public static WordTextEncoder Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"WordTextEncoder: text-encoder folder '{directory}' does not exist.");
        string Require(string name)
        {
            var p = Path.Combine(directory, name);
            if (!File.Exists(p)) throw new FileNotFoundException($"WordTextEncoder: '{directory}' has no {name} (looked for '{p}').", p);
            return p;
        }
        var configPath = Require(ConfigFileName);
        var weightsPath = Require(WeightsFileName);
        var vocab = Vocabulary.Load(Require(VocabularyFileName));
        var config = ReadConfig(configPath);
        var encoder = new WordTextEncoder(config, vocab, new Rng(0));
        using (var reader = FlowGuide.SafeTensors.SafeTensorsCheckpoint.Open(weightsPath))
            encoder.LoadFrom(reader, strict: true, source: weightsPath);
        encoder.Eval();
        return encoder;
    }

    private static WordTextEncoderConfig ReadConfig(string path)
    {
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new FormatException("the top level is not an object");
            int Int(string k) => o[k]?.GetValue<int>() ?? throw new FormatException($"key '{k}' is missing");
            float eps = o["eps"] is { } e ? (float)e.GetValue<double>() : 1e-5f;
            return new WordTextEncoderConfig(Int("width"), Int("layers"), Int("heads"), Int("max_length"), Int("ffn_dim"), eps);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"WordTextEncoder: '{path}' is not a valid text-encoder config: {ex.Message}"), ex);
        }
    }
}
