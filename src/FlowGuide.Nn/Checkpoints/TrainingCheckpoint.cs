using System.Globalization;
using System.Text.Json;
using FlowGuide.Nn.Optim;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>
/// Everything an interrupted training run needs to resume bit-for-bit, as one folder: <c>model.safetensors</c> (F32
/// weights), <c>optimizer.safetensors</c> (moments, momentum, step, learning rate), optional <c>ema.safetensors</c>,
/// and <c>trainer.json</c> (step counter, named RNG states, free-form fields). The folder is written beside the target
/// and renamed into place, so a crash mid-save leaves the previous checkpoint intact.
/// </summary>
public sealed class TrainingCheckpoint
{
    private const string TrainerFile = "trainer.json";

    public required long Step { get; init; }

    /// <summary>RNG streams by role (for example "data", "noise", "dropout"), restored exactly.</summary>
    public IReadOnlyDictionary<string, RngState> RngStates { get; init; } = new Dictionary<string, RngState>();

    /// <summary>Free-form string fields (the command line, a config hash) saved in trainer.json.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>Writes model, optimizer (and EMA) state plus this record to <paramref name="dir"/> atomically.</summary>
    public void Save(string dir, Module model, Optimizer optimizer, Ema? ema = null)
    {
        var full = Path.GetFullPath(dir);
        var parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"TrainingCheckpoint: '{dir}' has no parent folder.");
        Directory.CreateDirectory(parent);
        var tmp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(tmp);
        try
        {
            model.SaveSafeTensors(Path.Combine(tmp, "model.safetensors"));
            SafeTensorsWriter.Write(Path.Combine(tmp, "optimizer.safetensors"), optimizer.StateDict().OrderBy(k => k.Key, StringComparer.Ordinal),
                new Dictionary<string, string> { ["optimizer"] = optimizer.GetType().Name });
            if (ema is not null)
                SafeTensorsWriter.Write(Path.Combine(tmp, "ema.safetensors"), ema.StateDict().OrderBy(k => k.Key, StringComparer.Ordinal));
            var json = new Dictionary<string, object>
            {
                ["step"] = Step,
                ["optimizer"] = optimizer.GetType().Name,
                ["rng"] = RngStates.ToDictionary(kv => kv.Key, kv => new Dictionary<string, string>
                {
                    ["seed"] = kv.Value.Seed.ToString(CultureInfo.InvariantCulture),
                    ["position"] = kv.Value.Position.ToString(CultureInfo.InvariantCulture),
                }),
                ["extra"] = Extra,
            };
            File.WriteAllText(Path.Combine(tmp, TrainerFile), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
            string? old = null;
            if (Directory.Exists(full))
            {
                old = full + ".old-" + Guid.NewGuid().ToString("N")[..8];
                Directory.Move(full, old);
            }
            Directory.Move(tmp, full);
            if (old is not null) Directory.Delete(old, recursive: true);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
    }

    /// <summary>True when <paramref name="dir"/> holds a complete checkpoint (trainer.json is written last).</summary>
    public static bool Exists(string dir) => File.Exists(Path.Combine(dir, TrainerFile));

    /// <summary>Restores model, optimizer (and EMA) state from <paramref name="dir"/> and returns the saved record.</summary>
    public static TrainingCheckpoint Load(string dir, Module model, Optimizer optimizer, Ema? ema = null)
    {
        var trainer = Path.Combine(dir, TrainerFile);
        if (!File.Exists(trainer)) throw new FileNotFoundException($"TrainingCheckpoint: '{dir}' is not a training checkpoint (no {TrainerFile}).", trainer);
        TrainingCheckpoint record;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(trainer));
            var root = doc.RootElement;
            var rng = new Dictionary<string, RngState>();
            foreach (var p in root.GetProperty("rng").EnumerateObject())
                rng[p.Name] = new RngState(ulong.Parse(p.Value.GetProperty("seed").GetString()!, CultureInfo.InvariantCulture),
                                           ulong.Parse(p.Value.GetProperty("position").GetString()!, CultureInfo.InvariantCulture));
            var extra = new Dictionary<string, string>();
            foreach (var p in root.GetProperty("extra").EnumerateObject()) extra[p.Name] = p.Value.GetString() ?? "";
            var savedOpt = root.GetProperty("optimizer").GetString();
            if (savedOpt != optimizer.GetType().Name)
                throw new ArgumentException($"TrainingCheckpoint: '{dir}' holds {savedOpt} state, but the run uses {optimizer.GetType().Name}.");
            record = new TrainingCheckpoint { Step = root.GetProperty("step").GetInt64(), RngStates = rng, Extra = extra };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"TrainingCheckpoint: '{trainer}' is not a valid trainer record: {ex.Message}", ex);
        }
        model.LoadSafeTensors(Path.Combine(dir, "model.safetensors"));
        using (var opt = SafeTensorsFile.Open(Path.Combine(dir, "optimizer.safetensors")))
            optimizer.LoadStateDict(opt.Names.ToDictionary(n => n, opt.Load));
        if (ema is not null)
        {
            using var e = SafeTensorsFile.Open(Path.Combine(dir, "ema.safetensors"));
            ema.LoadStateDict(e.Names.ToDictionary(n => n, e.Load));
        }
        return record;
    }
}
