using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Media;

namespace FlowGuide.Cli.Eval;

/// <summary>A metric column of the results table.</summary>
/// <param name="Key">Column name in results.csv/json and summary.json.</param>
/// <param name="Label">Short name for tables and charts.</param>
/// <param name="Better">+1 when higher is better, -1 when lower is better, 0 when neither (dynamic degree).</param>
/// <param name="Description">One line for the report.</param>
public sealed record EvalMetric(string Key, string Label, int Better, string Description);

/// <summary>The metric columns, in table order.</summary>
public static class EvalMetrics
{
    public static IReadOnlyList<EvalMetric> All { get; } = new EvalMetric[]
    {
        new("motion_smoothness", "motion smoothness", +1, "VBench motion smoothness with the flow-based interpolator (1 = odd frames exactly interpolated)"),
        new("warping_error", "warping error", -1, "Lai et al. warping error, occlusions masked by forward-backward check (0 = every frame the warp of the next)"),
        new("temporal_flickering", "temporal flickering", +1, "VBench temporal flickering (1 = no frame-to-frame change)"),
        new("dynamic_degree", "dynamic degree", 0, "fraction of videos VBench's flow test calls dynamic"),
        new("motion_fidelity", "motion fidelity", +1, "SMM motion fidelity against the method's reference video, tracks chained from flow (only for methods that follow a reference)"),
        new("motion_fidelity_moving", "motion fidelity (moving tracks)", +1, "FlowGuide's variant of motion fidelity: moving tracks only, steps under 0.5% of the frame's side count as still, two-sided (MotionFidelity.ScoreMoving)"),
        new("subject_consistency", "subject consistency", +1, "VBench subject consistency with gradient-histogram stand-in features"),
        new("background_consistency", "background consistency", +1, "VBench background consistency with colour-histogram stand-in features"),
        new("world_colour", "colour found", +1, "motion world: the asked colour is present in at least half the frames"),
        new("world_motion", "motion agrees", +1, "motion world: the tracked shape does the asked motion (direction, pan, bounce, orbit, growth, spin or stillness)"),
        new("world_shape", "shape agrees", +1, "motion world: the majority silhouette guess is the asked shape"),
        new("world_area_cv", "area CV", -1, "motion world: coefficient of variation of the shape's area over frames"),
        new("world_colour_cv", "colour CV", -1, "motion world: relative RMS change of the shape's mean colour over frames"),
        new("world_area_jitter", "area jitter", -1, "motion world: mean relative frame-to-frame area change"),
    };

    public static EvalMetric? Find(string key) => All.FirstOrDefault(m => m.Key == key);
}

/// <summary>One generated video of an evaluation: which method, prompt and seed, where it was written, its cost and every metric.</summary>
public sealed class EvalRow
{
    public required string Method { get; init; }

    /// <summary>0-based line index of the prompt among the prompt file's prompts.</summary>
    public required int PromptIndex { get; init; }

    public required string Prompt { get; init; }

    /// <summary>In a transfer evaluation, the job's source as the transfer file names it (<c>world:heldout:12</c>, a path); "" otherwise.</summary>
    public string Source { get; init; } = "";

    public required ulong Seed { get; init; }

    /// <summary>The GIF, relative to the output folder with '/' separators.</summary>
    public required string Video { get; init; }

    /// <summary>The flow visualisation PNG, relative to the output folder.</summary>
    public required string Flow { get; init; }

    /// <summary>Wall-clock seconds of the generation (sampling and decoding, not metrics).</summary>
    public required double Seconds { get; init; }

    /// <summary>Peak bytes of live tensor storage during the generation (<see cref="FlowGuide.Tensors.BufferPool.PeakLiveBytes"/>).</summary>
    public required long PeakBytes { get; init; }

    /// <summary>Seconds spent on the metrics of this video.</summary>
    public required double MetricSeconds { get; init; }

    /// <summary>Metric values by <see cref="EvalMetric.Key"/>; NaN where a metric does not apply (a prompt outside the world's grammar).</summary>
    public required IReadOnlyDictionary<string, double> Metrics { get; init; }

    /// <summary>What the motion-world analyser saw, in words ("" for prompts outside the grammar).</summary>
    public string WorldObserved { get; init; } = "";

    /// <summary>The key a row is found by when resuming.</summary>
    public (string Method, string Source, string Prompt, ulong Seed) Key => (Method, Source, Prompt, Seed);

    public double Metric(string key) => Metrics.TryGetValue(key, out var v) ? v : double.NaN;
}

/// <summary>Reads and writes results.json and results.csv (both rewritten whole, atomically, after every video).</summary>
public static class EvalResults
{
    public const string JsonName = "results.json";
    public const string CsvName = "results.csv";

    private static readonly string[] FixedColumns = { "method", "prompt_index", "source", "prompt", "seed", "seconds", "peak_bytes", "metric_seconds" };

    /// <summary>The rows in <paramref name="dir"/>/results.json, or none when the file does not exist.</summary>
    public static List<EvalRow> Load(string dir)
    {
        string path = Path.Combine(dir, JsonName);
        if (!File.Exists(path)) return new List<EvalRow>();
        try
        {
            var array = JsonNode.Parse(File.ReadAllText(path)) as JsonArray
                        ?? throw new FormatException("the top level is not an array");
            var rows = new List<EvalRow>();
            foreach (var node in array)
            {
                var o = node as JsonObject ?? throw new FormatException("a row is not an object");
                var metrics = new Dictionary<string, double>();
                foreach (var m in EvalMetrics.All)
                    metrics[m.Key] = o[m.Key] is JsonValue v ? v.GetValue<double>() : double.NaN;
                rows.Add(new EvalRow
                {
                    Method = Required(o, "method").GetValue<string>(),
                    PromptIndex = Required(o, "prompt_index").GetValue<int>(),
                    Prompt = Required(o, "prompt").GetValue<string>(),
                    Source = o["source"]?.GetValue<string>() ?? "",
                    Seed = Required(o, "seed").GetValue<ulong>(),
                    Video = Required(o, "video").GetValue<string>(),
                    Flow = Required(o, "flow").GetValue<string>(),
                    Seconds = Required(o, "seconds").GetValue<double>(),
                    PeakBytes = Required(o, "peak_bytes").GetValue<long>(),
                    MetricSeconds = o["metric_seconds"]?.GetValue<double>() ?? double.NaN,
                    Metrics = metrics,
                    WorldObserved = o["world_observed"]?.GetValue<string>() ?? "",
                });
            }
            return rows;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"'{path}' is not a FlowGuide results file ({e.Message}); move it away or use another --out folder.", e);
        }
    }

    private static JsonNode Required(JsonObject o, string key) =>
        o[key] ?? throw new FormatException($"a row has no \"{key}\"");

    /// <summary>Writes results.json and results.csv for <paramref name="rows"/> (each through a temporary file).</summary>
    public static void Save(string dir, IReadOnlyList<EvalRow> rows)
    {
        var array = new JsonArray();
        foreach (var r in rows)
        {
            var o = new JsonObject
            {
                ["method"] = r.Method,
                ["prompt_index"] = r.PromptIndex,
                ["source"] = r.Source,
                ["prompt"] = r.Prompt,
                ["seed"] = r.Seed,
                ["seconds"] = r.Seconds,
                ["peak_bytes"] = r.PeakBytes,
                ["metric_seconds"] = Number(r.MetricSeconds),
            };
            foreach (var m in EvalMetrics.All) o[m.Key] = Number(r.Metric(m.Key));
            o["video"] = r.Video;
            o["flow"] = r.Flow;
            o["world_observed"] = r.WorldObserved;
            array.Add(o);
        }
        WriteText(Path.Combine(dir, JsonName), array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        WriteText(Path.Combine(dir, CsvName), Csv(rows));
    }

    /// <summary>The CSV text: a header, then one line per row; NaN is an empty field; text fields quoted when needed.</summary>
    public static string Csv(IReadOnlyList<EvalRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', FixedColumns.Concat(EvalMetrics.All.Select(m => m.Key)).Concat(new[] { "video", "flow", "world_observed" })).Append('\n');
        foreach (var r in rows)
        {
            var fields = new List<string>
            {
                Quote(r.Method), r.PromptIndex.ToString(CultureInfo.InvariantCulture), Quote(r.Source), Quote(r.Prompt),
                r.Seed.ToString(CultureInfo.InvariantCulture), Format(r.Seconds), r.PeakBytes.ToString(CultureInfo.InvariantCulture),
                Format(r.MetricSeconds),
            };
            fields.AddRange(EvalMetrics.All.Select(m => Format(r.Metric(m.Key))));
            fields.Add(Quote(r.Video));
            fields.Add(Quote(r.Flow));
            fields.Add(Quote(r.WorldObserved));
            sb.AppendJoin(',', fields).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Writes UTF-8 text through a temporary file renamed into place; a failure is an <see cref="IOException"/> naming the file.</summary>
    public static void WriteText(string path, string text)
    {
        try
        {
            AtomicFile.Write(path, s => { using var w = new StreamWriter(s, new UTF8Encoding(false)); w.Write(text); }, "file");
        }
        catch (MediaException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    private static string Format(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    private static string Quote(string s) =>
        s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
