using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace FlowGuide.Cli.Eval;

/// <summary>
/// Writes report.html into an eval folder: one static page beside the videos/ and flows/ folders it shows, with no
/// external resources (inline CSS, inline SVG charts, relative image paths), so it opens from disk without a server.
/// Sections: settings, the per-method table with 95% intervals, paired differences against the base, per-metric bar
/// charts and cost-against-gain scatters, side-by-side animated comparisons per prompt with flow sheets, and every row.
/// A small inline script checks on load that every image decoded; it writes the count into the body's
/// <c>data-images</c> attribute and, if any failed, shows a banner and logs one console error (which is what the
/// headless-browser test looks for).
/// </summary>
public static class ReportWriter
{
    public const string FileName = "report.html";

    /// <summary>Pixel width at which the GIFs and flow sheets are shown (videos are upscaled without smoothing).</summary>
    public const int ThumbnailWidth = 192;

    /// <summary>Writes <paramref name="dir"/>/report.html; returns its path.</summary>
    public static string Write(string dir, IReadOnlyList<EvalRow> rows, EvalSummary summary)
    {
        string path = Path.Combine(dir, FileName);
        EvalResults.WriteText(path, Render(rows, summary, ReadSettings(dir)));
        return path;
    }

    /// <summary>The page as a string (<paramref name="settings"/> is run.json's content, or null).</summary>
    public static string Render(IReadOnlyList<EvalRow> rows, EvalSummary summary, JsonObject? settings)
    {
        var methods = summary.Methods.Select(m => m.Method).ToList();
        var shown = Shown(rows);
        var omitted = EvalMetrics.All.Where(m => !shown.Contains(m)).ToList();
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>FlowGuide evaluation</title>\n");
        sb.Append("<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        sb.Append("<h1>FlowGuide evaluation</h1>\n");
        sb.Append("<div id=\"image-check\" class=\"warn\" hidden></div>\n");
        sb.Append(Inv($"<p class=\"meta\">{summary.Prompts} prompt(s) &times; {summary.Seeds} seed(s) &times; {methods.Count} method(s) = {rows.Count} videos. "));
        if (settings?["sampling"] is JsonObject s)
            sb.Append("Sampling: ").Append(Esc(string.Join(", ", s.Where(kv => kv.Key != "model").Select(kv => $"{kv.Key} {Setting(kv.Value)}")))).Append(". ");
        sb.Append("Every method starts each (prompt, seed) from the same noise. Intervals are two-sided 95% Student-t intervals.</p>\n");
        if (settings?["methods"] is JsonObject ms)
        {
            sb.Append("<ul class=\"meta\">");
            foreach (var (name, value) in ms) sb.Append("<li><b>").Append(Esc(name)).Append("</b>: <code>").Append(Esc(value?.ToJsonString() ?? "")).Append("</code></li>");
            sb.Append("</ul>\n");
        }
        sb.Append("<nav><a href=\"#summary\">Summary</a> &middot; <a href=\"#paired\">Paired differences</a> &middot; <a href=\"#charts\">Charts</a> &middot; <a href=\"#videos\">Side by side</a> &middot; <a href=\"#rows\">All videos</a></nav>\n");

        // 1. per-method table
        sb.Append("<h2 id=\"summary\">Summary</h2>\n<table class=\"num\">\n<tr><th>metric</th>");
        foreach (var m in methods) sb.Append("<th>").Append(Esc(m)).Append("</th>");
        sb.Append("</tr>\n");
        SummaryRow(sb, "seconds per video", "", summary.Methods.Select(m => m.Seconds));
        SummaryRow(sb, "peak tensor MiB", "", summary.Methods.Select(m => m.PeakMiB));
        foreach (var metric in shown)
            SummaryRow(sb, metric.Label + Arrow(metric), metric.Description, summary.Methods.Select(m => m.Metrics[metric.Key]));
        sb.Append("</table>\n");
        if (omitted.Count > 0)
            sb.Append("<p class=\"meta\">Not applicable to any video here (left out below): ").Append(Esc(string.Join(", ", omitted.Select(m => m.Label)))).Append(".</p>\n");

        // 2. paired differences
        sb.Append("<h2 id=\"paired\">Paired differences against ").Append(Esc(summary.BaseMethod ?? "base")).Append("</h2>\n");
        if (summary.Paired.Count == 0)
            sb.Append("<p>No paired differences: the run has no '").Append(EvalMethods.BaseName).Append("' method or no other method.</p>\n");
        else
        {
            sb.Append("<p>Method minus base on the same prompt and seed. Green: the interval excludes 0 on the better side; red: on the worse side.</p>\n");
            PairedTable(sb, summary.Paired, shown);
        }
        foreach (var group in summary.OtherReferences.GroupBy(p => p.Against))
        {
            sb.Append("<h3>Paired differences against ").Append(Esc(group.Key)).Append("</h3>\n<p>Method minus ").Append(Esc(group.Key))
              .Append(" on the same source, prompt and seed.</p>\n");
            PairedTable(sb, group.ToList(), shown);
        }

        // 3. charts
        sb.Append("<h2 id=\"charts\">Charts</h2>\n<p>Left: each method's mean with its 95% interval. Right: cost against gain, ")
          .Append("the time ratio against the base and the paired difference of the metric, with intervals on both axes.</p>\n<div class=\"charts\">\n");
        var timeRatios = summary.Paired.ToDictionary(p => p.Method, p => p.TimeRatio);
        foreach (var metric in shown)
        {
            var bars = summary.Methods.Select(m => (m.Method, m.Metrics[metric.Key])).ToList();
            var points = new List<(string, MeanInterval, MeanInterval, int)>();
            if (summary.BaseMethod is { } b)
                points.Add((b, new MeanInterval(1, 1, double.NaN, double.NaN, double.NaN), new MeanInterval(1, 0, double.NaN, double.NaN, double.NaN), methods.IndexOf(b)));
            foreach (var p in summary.Paired) points.Add((p.Method, p.TimeRatio, p.Differences[metric.Key], methods.IndexOf(p.Method)));
            sb.Append("<div class=\"card\">").Append(SvgCharts.Bars(metric.Label + Arrow(metric), bars));
            if (summary.Paired.Count > 0) sb.Append(SvgCharts.CostGain(metric.Label + ": gain vs cost", points));
            sb.Append("</div>\n");
        }
        sb.Append("</div>\n");

        // 4. side by side, prompt by prompt
        sb.Append("<h2 id=\"videos\">Side by side</h2>\n<p>Each video (animated) above its flow sheet: consecutive-frame flows, ")
          .Append("white = still, hue = direction (right red, down yellow, left cyan, up blue), saturation = speed.</p>\n");
        foreach (var prompt in rows.GroupBy(r => (r.PromptIndex, r.Source, r.Prompt)).OrderBy(g => g.Key.PromptIndex))
        {
            sb.Append(Inv($"<section class=\"prompt\"><h3>{prompt.Key.PromptIndex + 1}. ")).Append(Esc(prompt.Key.Prompt)).Append("</h3>\n");
            if (prompt.Key.Source.Length > 0)
            {
                // a transfer job: the prepared source every method's motion fidelity was measured against
                string source = EvalRunner.SourceVideoPath(EvalRunner.JobStem(prompt.Key.PromptIndex, prompt.Key.Source, prompt.Key.Prompt));
                sb.Append("<figure class=\"source\">").Append(Inv($"<img class=\"video\" src=\"{Url(source)}\" width=\"{ThumbnailWidth}\" alt=\""))
                  .Append(Esc("source " + prompt.Key.Source)).Append("\"><figcaption>source: ").Append(Esc(prompt.Key.Source)).Append("</figcaption></figure>\n");
            }
            sb.Append("<table class=\"cmp\">\n<tr><th>seed</th>");
            foreach (var m in methods) sb.Append("<th>").Append(Esc(m)).Append("</th>");
            sb.Append("</tr>\n");
            foreach (var seed in prompt.GroupBy(r => r.Seed).OrderBy(g => g.Key))
            {
                sb.Append(Inv($"<tr><td>{seed.Key}</td>"));
                foreach (var m in methods)
                {
                    var r = seed.FirstOrDefault(x => x.Method == m);
                    if (r is null) { sb.Append("<td>&ndash;</td>"); continue; }
                    sb.Append("<td><figure>")
                      .Append(Inv($"<img class=\"video\" src=\"{Url(r.Video)}\" width=\"{ThumbnailWidth}\" alt=\"")).Append(Esc($"{m}, seed {r.Seed}")).Append("\">")
                      .Append(Inv($"<img class=\"flow\" src=\"{Url(r.Flow)}\" width=\"{ThumbnailWidth}\" alt=\"")).Append(Esc($"flow of {m}, seed {r.Seed}")).Append("\">")
                      .Append("<figcaption>").Append(Esc(Caption(r))).Append("</figcaption></figure></td>");
                }
                sb.Append("</tr>\n");
            }
            sb.Append("</table></section>\n");
        }

        // 5. every row
        sb.Append("<h2 id=\"rows\">All videos</h2>\n<table class=\"num small\">\n<tr><th>prompt</th><th>seed</th><th>method</th><th>seconds</th><th>peak MiB</th>");
        foreach (var metric in shown) sb.Append("<th>").Append(Esc(metric.Label)).Append("</th>");
        sb.Append("<th>motion-world analyser</th></tr>\n");
        foreach (var r in rows)
        {
            sb.Append(Inv($"<tr><td>{r.PromptIndex + 1}</td><td>{r.Seed}</td><td>")).Append(Esc(r.Method)).Append(Inv($"</td><td>{r.Seconds:F2}</td><td>{r.PeakBytes / 1048576.0:F1}</td>"));
            foreach (var metric in shown) sb.Append("<td>").Append(Value(r.Metric(metric.Key))).Append("</td>");
            sb.Append("<td class=\"text\">").Append(Esc(r.WorldObserved)).Append("</td></tr>\n");
        }
        sb.Append("</table>\n");
        sb.Append("<script>\n").Append(ImageCheckScript).Append("</script>\n</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>One paired-differences table: a column per method, time and memory ratios, then every shown metric coloured by verdict.</summary>
    private static void PairedTable(StringBuilder sb, IReadOnlyList<PairedSummary> paired, IReadOnlyList<EvalMetric> shown)
    {
        sb.Append("<table class=\"num\">\n<tr><th>metric</th>");
        foreach (var p in paired) sb.Append("<th>").Append(Esc(p.Method)).Append(Inv($" ({p.Pairs} pairs)</th>"));
        sb.Append("</tr>\n<tr><td>time ratio</td>");
        foreach (var p in paired) sb.Append("<td>").Append(Esc(EvalSummary.Cell(p.TimeRatio))).Append("</td>");
        sb.Append("</tr>\n<tr><td>peak memory ratio</td>");
        foreach (var p in paired) sb.Append("<td>").Append(Esc(EvalSummary.Cell(p.PeakRatio))).Append("</td>");
        sb.Append("</tr>\n");
        foreach (var metric in shown)
        {
            sb.Append("<tr><td title=\"").Append(Esc(metric.Description)).Append("\">").Append(Esc(metric.Label + Arrow(metric))).Append("</td>");
            foreach (var p in paired)
            {
                var d = p.Differences[metric.Key];
                int verdict = d.SignExcludingZero * metric.Better;
                sb.Append(verdict > 0 ? "<td class=\"better\">" : verdict < 0 ? "<td class=\"worse\">" : "<td>")
                  .Append(Esc(EvalSummary.Cell(d, signed: true))).Append("</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n");
    }

    /// <summary>The metrics with at least one finite value (the others, such as motion fidelity without a reference, are left out).</summary>
    public static List<EvalMetric> Shown(IReadOnlyList<EvalRow> rows) =>
        EvalMetrics.All.Where(m => rows.Any(r => double.IsFinite(r.Metric(m.Key)))).ToList();

    private static JsonObject? ReadSettings(string dir)
    {
        string path = Path.Combine(dir, EvalRunner.RunFileName);
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (System.Text.Json.JsonException) { return null; }
    }

    private static void SummaryRow(StringBuilder sb, string label, string description, IEnumerable<MeanInterval> values)
    {
        sb.Append("<tr><td title=\"").Append(Esc(description)).Append("\">").Append(Esc(label)).Append("</td>");
        foreach (var v in values) sb.Append("<td>").Append(Esc(EvalSummary.Cell(v))).Append("</td>");
        sb.Append("</tr>\n");
    }

    private static string Caption(EvalRow r)
    {
        string Flag(string key) => r.Metric(key) switch { var v when double.IsNaN(v) => "-", > 0 => "yes", _ => "no" };
        var text = Inv($"smooth {r.Metric("motion_smoothness"):F4}, warp {r.Metric("warping_error"):F5}, {r.Seconds:F1} s");
        if (double.IsFinite(r.Metric("motion_fidelity"))) text += Inv($", fidelity {r.Metric("motion_fidelity"):F4}");
        return double.IsNaN(r.Metric("world_colour")) ? text : text + $"; colour {Flag("world_colour")}, motion {Flag("world_motion")}";
    }

    /// <summary>A run.json value for the page: strings unquoted unless empty, everything else as JSON.</summary>
    private static string Setting(JsonNode? v) =>
        v is JsonValue j && j.TryGetValue<string>(out var str) ? (str.Length == 0 ? "\"\"" : str) : v?.ToJsonString() ?? "null";

    private static string Value(double v) => double.IsFinite(v) ? v.ToString("0.#####", CultureInfo.InvariantCulture) : "&ndash;";

    private static string Arrow(EvalMetric m) => m.Better > 0 ? " \u2191" : m.Better < 0 ? " \u2193" : "";

    /// <summary>A relative path as a URL: each segment percent-encoded, '/' separators.</summary>
    private static string Url(string relative) => string.Join('/', relative.Split('/').Select(Uri.EscapeDataString));

    private static string Esc(string s) => WebUtility.HtmlEncode(s);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private const string Css = """
        body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
        h1 { margin-bottom: 0.2em; }
        .meta { color: #555; }
        nav { margin: 1em 0; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
        th, td { border: 1px solid #ccc; padding: 3px 7px; }
        th { background: #f2f2f2; }
        table.num td { text-align: right; font-variant-numeric: tabular-nums; }
        table.num td:first-child, td.text { text-align: left; }
        table.small { font-size: 0.8em; }
        td.better { background: #d9f2d9; }
        td.worse { background: #f7d4d4; }
        .charts { display: flex; flex-wrap: wrap; gap: 12px; }
        .card { border: 1px solid #ddd; padding: 4px; display: flex; gap: 4px; }
        table.cmp td { vertical-align: top; text-align: center; }
        figure { margin: 0; }
        img.video, img.flow { display: block; image-rendering: pixelated; margin-bottom: 4px; }
        figcaption { font-size: 0.75em; color: #444; max-width: 192px; }
        code { word-break: break-all; }
        .warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.6em; }
        """;

    private const string ImageCheckScript = """
        window.addEventListener('load', function () {
          var images = document.images, broken = [];
          for (var i = 0; i < images.length; i++)
            if (!images[i].complete || images[i].naturalWidth === 0) broken.push(images[i].getAttribute('src'));
          document.body.setAttribute('data-images', (images.length - broken.length) + '/' + images.length);
          if (broken.length > 0) {
            var box = document.getElementById('image-check');
            box.hidden = false;
            box.textContent = broken.length + ' image(s) did not load; keep report.html beside its videos/ and flows/ folders: ' + broken.join(', ');
            console.error('report: ' + broken.length + ' image(s) did not load: ' + broken.join(', '));
          }
        });

        """;
}
