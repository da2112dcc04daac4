using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlowGuide.Cli.Eval;

/// <summary>One method's means over all its videos.</summary>
/// <param name="Method">Method name.</param>
/// <param name="Videos">Rows of this method.</param>
/// <param name="Seconds">Generation seconds per video.</param>
/// <param name="PeakMiB">Peak live tensor memory per video, MiB.</param>
/// <param name="Metrics">Each metric's mean and 95% t-interval by key.</param>
public sealed record MethodSummary(string Method, int Videos, MeanInterval Seconds, MeanInterval PeakMiB, IReadOnlyDictionary<string, MeanInterval> Metrics);

/// <summary>One method against the base method (or another reference method) over the (source, prompt, seed) jobs both have.</summary>
/// <param name="Method">Method name.</param>
/// <param name="Pairs">(source, prompt, seed) jobs with both videos (the source is "" outside transfer evaluations).</param>
/// <param name="TimeRatio">Per pair, this method's seconds over the base's.</param>
/// <param name="PeakRatio">Per pair, this method's peak memory over the base's.</param>
/// <param name="Differences">Per metric, the mean and 95% t-interval of (this method - base) over pairs where both are finite.</param>
/// <param name="Against">The method compared with: the base, or a paired reference such as noised-source.</param>
public sealed record PairedSummary(string Method, int Pairs, MeanInterval TimeRatio, MeanInterval PeakRatio, IReadOnlyDictionary<string, MeanInterval> Differences,
    string Against = EvalMethods.BaseName);

/// <summary>
/// The summary of an evaluation: per-method means with 95% Student-t intervals, and paired differences against the
/// base method (same prompt, same seed, so the same initial noise) with their t-intervals. Binary metrics (colour
/// found, dynamic) are averaged like the others: their mean is a rate and the t-interval a normal-approximation interval.
/// <see cref="Contrasts"/> holds the same paired differences against every other method the registry marks as a paired
/// reference (<see cref="EvalMethod.PairedReference"/>, e.g. the noised-source transfer baseline) that is in the run.
/// </summary>
public sealed record EvalSummary(IReadOnlyList<MethodSummary> Methods, IReadOnlyList<PairedSummary> Paired, string? BaseMethod, int Prompts, int Seeds,
    IReadOnlyList<PairedSummary>? Contrasts = null)
{
    /// <summary>Paired differences against the paired references other than the base (empty when none ran).</summary>
    public IReadOnlyList<PairedSummary> OtherReferences => Contrasts ?? Array.Empty<PairedSummary>();

    public const string JsonName = "summary.json";
    public const string MarkdownName = "summary.md";

    /// <summary>Summarises <paramref name="rows"/>; methods appear in <paramref name="order"/> first, then any others by name.</summary>
    public static EvalSummary Compute(IReadOnlyList<EvalRow> rows, IEnumerable<string>? order = null)
    {
        var names = (order ?? Array.Empty<string>()).Where(n => rows.Any(r => r.Method == n))
            .Concat(rows.Select(r => r.Method).Distinct().OrderBy(n => n, StringComparer.Ordinal)).Distinct().ToList();
        var methods = names.Select(name =>
        {
            var mine = rows.Where(r => r.Method == name).ToList();
            var metrics = EvalMetrics.All.ToDictionary(m => m.Key, m => MeanInterval.Of(mine.Select(r => r.Metric(m.Key))));
            return new MethodSummary(name, mine.Count, MeanInterval.Of(mine.Select(r => r.Seconds)),
                MeanInterval.Of(mine.Select(r => r.PeakBytes / 1048576.0)), metrics);
        }).ToList();

        string? baseName = names.Contains(EvalMethods.BaseName) ? EvalMethods.BaseName : null;
        var paired = baseName is null ? new List<PairedSummary>() : PairedAgainst(rows, names, baseName);
        var contrasts = names.Where(n => n != baseName && EvalMethods.Find(n) is { PairedReference: true })
            .SelectMany(reference => PairedAgainst(rows, names, reference)).ToList();
        return new EvalSummary(methods, paired, baseName, rows.Select(r => (r.Source, r.Prompt)).Distinct().Count(),
            rows.Select(r => r.Seed).Distinct().Count(), contrasts);
    }

    /// <summary>Every other method against <paramref name="reference"/> over the (source, prompt, seed) jobs both have.</summary>
    private static List<PairedSummary> PairedAgainst(IReadOnlyList<EvalRow> rows, IEnumerable<string> names, string reference)
    {
        var list = new List<PairedSummary>();
        var refRows = rows.Where(r => r.Method == reference).ToDictionary(r => (r.Source, r.Prompt, r.Seed));
        foreach (var name in names.Where(n => n != reference))
        {
            var pairs = rows.Where(r => r.Method == name && refRows.ContainsKey((r.Source, r.Prompt, r.Seed)))
                .Select(r => (Mine: r, Base: refRows[(r.Source, r.Prompt, r.Seed)])).ToList();
            var diffs = EvalMetrics.All.ToDictionary(m => m.Key,
                m => MeanInterval.Of(pairs.Select(p => p.Mine.Metric(m.Key) - p.Base.Metric(m.Key))));
            list.Add(new PairedSummary(name, pairs.Count,
                MeanInterval.Of(pairs.Select(p => p.Mine.Seconds / p.Base.Seconds)),
                MeanInterval.Of(pairs.Select(p => (double)p.Mine.PeakBytes / p.Base.PeakBytes)), diffs, reference));
        }
        return list;
    }

    /// <summary>The summary as JSON (NaN as null); intervals as {n, mean, sd, ci95: [low, high]}.</summary>
    public string ToJson()
    {
        var methods = new JsonObject();
        foreach (var m in Methods)
        {
            var metrics = new JsonObject();
            foreach (var (k, v) in m.Metrics) metrics[k] = Node(v);
            methods[m.Method] = new JsonObject
            {
                ["videos"] = m.Videos, ["seconds"] = Node(m.Seconds), ["peak_mib"] = Node(m.PeakMiB), ["metrics"] = metrics,
            };
        }
        JsonObject PairedNode(IEnumerable<PairedSummary> list)
        {
            var paired = new JsonObject();
            foreach (var p in list)
            {
                var diffs = new JsonObject();
                foreach (var (k, v) in p.Differences) diffs[k] = Node(v);
                paired[p.Method] = new JsonObject
                {
                    ["pairs"] = p.Pairs, ["time_ratio"] = Node(p.TimeRatio), ["peak_ratio"] = Node(p.PeakRatio), ["differences"] = diffs,
                };
            }
            return paired;
        }
        var root = new JsonObject
        {
            ["base"] = BaseMethod, ["prompts"] = Prompts, ["seeds"] = Seeds,
            ["interval"] = "two-sided 95% Student-t interval of the mean; paired differences are method minus base over (prompt, seed) pairs",
            ["methods"] = methods, ["paired_vs_base"] = PairedNode(Paired),
        };
        if (OtherReferences.Count > 0)
        {
            var others = new JsonObject();
            foreach (var g in OtherReferences.GroupBy(p => p.Against)) others[g.Key] = PairedNode(g);
            root["paired_vs"] = others;
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>The summary as Markdown tables: per-method means, then paired differences against the base.</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("# Evaluation summary\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"{Prompts} prompts x {Seeds} seeds. Means with 95% Student-t intervals.\n\n");
        sb.Append("| metric | ").AppendJoin(" | ", Methods.Select(m => m.Method)).Append(" |\n");
        sb.Append("|---|").Append(string.Concat(Methods.Select(_ => "---|"))).Append('\n');
        sb.Append("| seconds per video | ").AppendJoin(" | ", Methods.Select(m => Cell(m.Seconds))).Append(" |\n");
        sb.Append("| peak tensor MiB | ").AppendJoin(" | ", Methods.Select(m => Cell(m.PeakMiB))).Append(" |\n");
        foreach (var metric in EvalMetrics.All)
            sb.Append("| ").Append(metric.Label).Append(Arrow(metric)).Append(" | ")
              .AppendJoin(" | ", Methods.Select(m => Cell(m.Metrics[metric.Key]))).Append(" |\n");
        var groups = new List<IReadOnlyList<PairedSummary>>();
        if (Paired.Count > 0) groups.Add(Paired);
        groups.AddRange(OtherReferences.GroupBy(p => p.Against).Select(g => g.ToList()));
        foreach (var group in groups)
        {
            string against = group[0].Against;
            sb.Append(CultureInfo.InvariantCulture, $"\n## Paired differences against {against} (method - {against}, same prompt, source and seed)\n\n");
            sb.Append("| metric | ").AppendJoin(" | ", group.Select(p => $"{p.Method} ({p.Pairs} pairs)")).Append(" |\n");
            sb.Append("|---|").Append(string.Concat(group.Select(_ => "---|"))).Append('\n');
            sb.Append("| time ratio | ").AppendJoin(" | ", group.Select(p => Cell(p.TimeRatio))).Append(" |\n");
            sb.Append("| peak memory ratio | ").AppendJoin(" | ", group.Select(p => Cell(p.PeakRatio))).Append(" |\n");
            foreach (var metric in EvalMetrics.All)
                sb.Append("| ").Append(metric.Label).Append(Arrow(metric)).Append(" | ")
                  .AppendJoin(" | ", group.Select(p => Cell(p.Differences[metric.Key], signed: true))).Append(" |\n");
        }
        if (Paired.Count + OtherReferences.Count > 0) sb.Append("\nAn interval that excludes 0 is marked * .\n");
        return sb.ToString();
    }

    /// <summary>Writes summary.json and summary.md into <paramref name="dir"/>.</summary>
    public void Save(string dir)
    {
        EvalResults.WriteText(Path.Combine(dir, JsonName), ToJson());
        EvalResults.WriteText(Path.Combine(dir, MarkdownName), ToMarkdown());
    }

    /// <summary>"0.9812 [0.9790, 0.9834]" with a trailing * when signed and the interval excludes 0; "-" when empty.</summary>
    public static string Cell(MeanInterval v, bool signed = false)
    {
        if (v.N == 0) return "-";
        string f(double x) => x.ToString(signed ? "+0.0000;-0.0000;0.0000" : "0.0000", CultureInfo.InvariantCulture);
        if (v.N < 2) return f(v.Mean);
        return $"{f(v.Mean)} [{f(v.Low)}, {f(v.High)}]{(signed && v.SignExcludingZero != 0 ? " *" : "")}";
    }

    private static string Arrow(EvalMetric m) => m.Better > 0 ? " (higher is better)" : m.Better < 0 ? " (lower is better)" : "";

    private static JsonObject Node(MeanInterval v) => new()
    {
        ["n"] = v.N, ["mean"] = Num(v.Mean), ["sd"] = Num(v.Sd), ["ci95"] = new JsonArray(Num(v.Low), Num(v.High)),
    };

    private static JsonNode? Num(double x) => double.IsFinite(x) ? JsonValue.Create(x) : null;
}
