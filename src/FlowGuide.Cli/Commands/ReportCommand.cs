using System.Text.Json.Nodes;
using FlowGuide.Cli.Eval;

namespace FlowGuide.Cli;

/// <summary><c>flowguide report DIR</c>: rewrites the summary and report.html of an eval folder from its results.json.</summary>
public sealed class ReportCommand : Command
{
    public override string Name => "report";
    public override string Summary => "write summary.json/md and report.html of an eval folder";
    public override string Usage =>
        "flowguide report DIR\n\n" +
        "Reads DIR/results.json (written by 'flowguide eval'), recomputes the summary (means, 95% t-intervals, paired\n" +
        "differences against 'base') into summary.json and summary.md, and writes DIR/report.html: a static page with\n" +
        "side-by-side GIFs, flow sheets, the metric tables and SVG charts, that opens from disk without a server.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        args.EnsureAllUsed(1);
        if (args.Positional.Count != 1) throw new UsageException("expected one folder: flowguide report DIR");
        string dir = Path.GetFullPath(args.Positional[0]);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"eval folder '{args.Positional[0]}' does not exist.");
        if (!File.Exists(Path.Combine(dir, EvalResults.JsonName)))
            throw new FileNotFoundException($"'{Path.Combine(dir, EvalResults.JsonName)}' does not exist; run 'flowguide eval --out {args.Positional[0]}' first.");
        var rows = EvalResults.Load(dir);
        if (rows.Count == 0) throw new InvalidDataException($"'{Path.Combine(dir, EvalResults.JsonName)}' holds no rows.");
        var order = ReadMethodOrder(dir);
        var summary = EvalSummary.Compute(rows, order);
        summary.Save(dir);
        var html = ReportWriter.Write(dir, rows, summary);
        output.WriteLine($"wrote {html} ({rows.Count} videos, {summary.Methods.Count} methods), {EvalSummary.JsonName}, {EvalSummary.MarkdownName}");
        return 0;
    }

    /// <summary>Method names in the order run.json lists them (the order of the first eval's --methods), or none.</summary>
    private static IEnumerable<string> ReadMethodOrder(string dir)
    {
        string path = Path.Combine(dir, EvalRunner.RunFileName);
        if (!File.Exists(path)) return Array.Empty<string>();
        try
        {
            return (JsonNode.Parse(File.ReadAllText(path))?["methods"] as JsonObject)?.Select(kv => kv.Key).ToList()
                   ?? (IEnumerable<string>)Array.Empty<string>();
        }
        catch (System.Text.Json.JsonException) { return Array.Empty<string>(); }
    }
}
