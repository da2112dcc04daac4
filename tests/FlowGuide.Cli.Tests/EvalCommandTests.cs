using System.Text.Json.Nodes;
using FlowGuide.Cli.Eval;
using FlowGuide.Media;
using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Cli.Tests;

/// <summary>
/// <c>flowguide eval</c> and <c>flowguide report</c> on a tiny random model folder (13 frames of 16 x 16, 3 steps; FlowMo
/// needs at least 3 latent frames for a non-zero variance):
/// 2 prompts x 2 seeds x 2 methods, the files and tables it writes, identical noise across methods, resuming after an
/// interruption, and one-line errors.
/// </summary>
public sealed class EvalCommandTests : IDisposable
{
    internal static readonly string[] Prompts =
    {
        "a red circle quickly moves left across a striped background",
        "the camera slowly pans up over a large blue square on a plain black background",
    };

    private readonly ITestOutputHelper _output;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-eval-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _model, _prompts;

    public EvalCommandTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_dir);
        _model = TinyModel.Create(Path.Combine(_dir, "model"));
        _prompts = Path.Combine(_dir, "prompts.txt");
        File.WriteAllText(_prompts, "# two world prompts\n\n" + string.Join("\n", Prompts) + "\n");
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    internal static (int Code, string Out, string Err) Run(TextWriter? o, CancellationToken cancel, params string[] argv)
    {
        o ??= new StringWriter();
        var e = new StringWriter();
        int code = Cli.Run(argv, o, e, cancel);
        return (code, o.ToString() ?? "", e.ToString());
    }

    private (int Code, string Out, string Err) Eval(string outDir, params string[] extra) =>
        Run(null, default, new[] { "eval", "--methods", "base,flowmo", "--prompts", _prompts, "--seeds", "0..1", "--out", outDir, "--model", _model,
            "--frames", "13", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.67" }.Concat(extra).ToArray());

    [Fact]
    public void WritesVideosFlowsTablesSummaryAndReportWithIdenticalNoise()
    {
        var outDir = Path.Combine(_dir, "run");
        var r = Eval(outDir);
        _output.WriteLine(r.Out);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("0 already done, 8 to generate", r.Out);

        // 1. one row per video, every metric column, files on disk
        var rows = EvalResults.Load(outDir);
        Assert.Equal(8, rows.Count);
        Assert.Equal(new[] { "base", "flowmo" }, rows.Select(x => x.Method).Distinct().ToArray());
        foreach (var row in rows)
        {
            var video = VideoIO.Read(Path.Combine(outDir, row.Video));
            Assert.Equal(new FlowGuide.Tensors.Shape(3, 13, 16, 16), video.Shape);
            Assert.True(File.Exists(Path.Combine(outDir, row.Flow)));
            Assert.True(row.Seconds > 0 && row.PeakBytes > 0, $"seconds {row.Seconds}, peak {row.PeakBytes}");
            Assert.InRange(row.Metric("motion_smoothness"), 0, 1);
            Assert.InRange(row.Metric("temporal_flickering"), 0, 1);
            Assert.True(row.Metric("warping_error") >= 0);
            Assert.Contains(row.Metric("world_colour"), new[] { 0.0, 1.0 }); // both prompts are world prompts
        }
        var csv = File.ReadAllLines(Path.Combine(outDir, EvalResults.CsvName));
        Assert.Equal(9, csv.Length);
        foreach (var m in EvalMetrics.All) Assert.Contains(m.Key, csv[0]);
        Assert.Contains("peak_bytes", csv[0]);

        // 2. summary: per-method means, paired differences over 4 (prompt, seed) pairs
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, EvalSummary.JsonName)))!;
        Assert.Equal(4, summary["methods"]!["base"]!["videos"]!.GetValue<int>());
        Assert.Equal(4, summary["paired_vs_base"]!["flowmo"]!["pairs"]!.GetValue<int>());
        Assert.NotNull(summary["paired_vs_base"]!["flowmo"]!["differences"]!["motion_smoothness"]!["ci95"]);
        Assert.Contains("Paired differences", File.ReadAllText(Path.Combine(outDir, EvalSummary.MarkdownName)));
        var html = File.ReadAllText(Path.Combine(outDir, ReportWriter.FileName));
        foreach (var row in rows) Assert.Contains(row.Video, html);

        // 3. identical noise: each method's video is what 'generate' makes with the same seed and settings
        var plain = Path.Combine(_dir, "plain.gif");
        var guided = Path.Combine(_dir, "guided.gif");
        Assert.Equal(0, Run(null, default, "generate", "--prompt", Prompts[1], "--seed", "1", "--model", _model, "--frames", "13", "--out", plain).Code);
        Assert.Equal(0, Run(null, default, "generate", "--prompt", Prompts[1], "--seed", "1", "--model", _model, "--frames", "13", "--out", guided,
            "--guidance", "flowmo", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.67").Code);
        var pick = (string method) => Path.Combine(outDir, rows.Single(x => x.Method == method && x.Seed == 1 && x.Prompt == Prompts[1]).Video);
        Assert.Equal(File.ReadAllBytes(plain), File.ReadAllBytes(pick("base")));
        Assert.Equal(File.ReadAllBytes(guided), File.ReadAllBytes(pick("flowmo")));
        Assert.NotEqual(File.ReadAllBytes(pick("base")), File.ReadAllBytes(pick("flowmo")));

        // 4. 'report' rewrites the page and the summary from results.json alone
        File.Delete(Path.Combine(outDir, ReportWriter.FileName));
        var rep = Run(null, default, "report", outDir);
        Assert.True(rep.Code == 0, rep.Err);
        Assert.Equal(html, File.ReadAllText(Path.Combine(outDir, ReportWriter.FileName)));
    }

    [Fact]
    public void ResumesAfterAnInterruptionWithoutRedoingFinishedVideos()
    {
        var outDir = Path.Combine(_dir, "resume");
        // 1. cancel as soon as the third video is reported
        using var cts = new CancellationTokenSource();
        var watcher = new CancelOnLine("[3/8]", cts);
        var first = Run(watcher, cts.Token, "eval", "--methods", "base,flowmo", "--prompts", _prompts, "--seeds", "0..1", "--out", outDir,
            "--model", _model, "--frames", "13", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.67");
        Assert.Equal(130, first.Code);
        var partial = EvalResults.Load(outDir);
        Assert.Equal(3, partial.Count);
        var stamps = partial.ToDictionary(x => x.Video, x => (File.GetLastWriteTimeUtc(Path.Combine(outDir, x.Video)), File.ReadAllBytes(Path.Combine(outDir, x.Video))));

        // 2. the same command again: only the 5 missing videos are made
        var second = Eval(outDir);
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains("3 already done, 5 to generate", second.Out);
        var rows = EvalResults.Load(outDir);
        Assert.Equal(8, rows.Count);
        foreach (var (video, (time, bytes)) in stamps)
        {
            Assert.Equal(time, File.GetLastWriteTimeUtc(Path.Combine(outDir, video)));
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(outDir, video)));
        }
        foreach (var p in partial) Assert.Equal(p.Metric("warping_error"), rows.Single(x => x.Key == p.Key).Metric("warping_error"));

        // 3. a third run has nothing to do; a row whose video was deleted is made again, identically
        var victim = rows[5];
        var victimBytes = File.ReadAllBytes(Path.Combine(outDir, victim.Video));
        File.Delete(Path.Combine(outDir, victim.Video));
        var third = Eval(outDir);
        Assert.True(third.Code == 0, third.Err);
        Assert.Contains("7 already done, 1 to generate", third.Out);
        Assert.Equal(victimBytes, File.ReadAllBytes(Path.Combine(outDir, victim.Video)));

        // 4. more seeds extend the run: pre-existing rows are kept
        var fourth = Run(null, default, "eval", "--methods", "base", "--prompts", _prompts, "--seeds", "0..2", "--out", outDir, "--model", _model, "--frames", "13");
        Assert.True(fourth.Code == 0, fourth.Err);
        Assert.Contains("4 already done, 2 to generate", fourth.Out);
        Assert.Equal(10, EvalResults.Load(outDir).Count);
    }

    [Fact]
    public async Task ResumesAfterTheProcessIsKilledHalfWay()
    {
        // 1. the real executable in its own process, killed (no cleanup, no cancellation) once two videos are reported
        var outDir = Path.Combine(_dir, "killed");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "flowguide.dll"), "eval", "--methods", "base,flowmo", "--prompts", _prompts,
                     "--seeds", "0..1", "--out", outDir, "--model", _model, "--frames", "13", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.67" })
            psi.ArgumentList.Add(a);
        using (var p = System.Diagnostics.Process.Start(psi)!)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            string? line;
            bool killed = false;
            while ((line = p.StandardOutput.ReadLine()) is not null)
                if (line.Contains("[2/8]", StringComparison.Ordinal)) { p.Kill(entireProcessTree: true); killed = true; break; }
            await p.WaitForExitAsync();
            Assert.True(killed, "the run ended before its second video: " + await stderr);
        }
        var survivors = EvalResults.Load(outDir);
        _output.WriteLine($"{survivors.Count} rows survived the kill");
        Assert.InRange(survivors.Count, 2, 7);
        var bytes = survivors.ToDictionary(r => r.Video, r => File.ReadAllBytes(Path.Combine(outDir, r.Video)));

        // 2. the same command in this process finishes the rest and keeps what was done
        var r = Eval(outDir);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains($"{survivors.Count} already done, {8 - survivors.Count} to generate", r.Out);
        Assert.Equal(8, EvalResults.Load(outDir).Count);
        foreach (var (video, b) in bytes) Assert.Equal(b, File.ReadAllBytes(Path.Combine(outDir, video)));
    }

    [Fact]
    public void RefusesChangedSettingsAndBadArgumentsInOneLine()
    {
        var outDir = Path.Combine(_dir, "errors");
        var ok = Run(null, default, "eval", "--methods", "base", "--prompts", _prompts, "--seeds", "0", "--limit", "1", "--out", outDir, "--model", _model, "--no-report");
        Assert.True(ok.Code == 0, ok.Err);
        Assert.False(File.Exists(Path.Combine(outDir, ReportWriter.FileName)));

        void Fails(int code, string contains, params string[] argv)
        {
            var r = Run(null, default, argv);
            Assert.True(r.Code == code, $"exit {r.Code} for {string.Join(' ', argv)}: {r.Err}");
            Assert.Contains(contains, r.Err);
            Assert.Single(r.Err.Trim().Split('\n'));
        }

        string[] Args(params string[] extra) =>
            new[] { "eval", "--prompts", _prompts, "--out", outDir, "--model", _model }.Concat(extra).ToArray();
        Fails(1, "steps", Args("--methods", "base", "--seeds", "0", "--steps", "2"));
        var setup = Run(null, default, Args("--methods", "flowmo", "--seeds", "0", "--limit", "1", "--flowmo-lr", "0.05", "--no-report"));
        Assert.True(setup.Code == 0, setup.Err);
        Fails(1, "flowmo results made with", Args("--methods", "flowmo", "--seeds", "0", "--limit", "1", "--flowmo-lr", "0.01"));
        Fails(2, "unknown method 'flowzzz'", Args("--methods", "base,flowzzz"));
        Fails(2, "lists 'base' twice", Args("--methods", "base,BASE"));
        Fails(2, "options of method 'flowmo'", Args("--methods", "base", "--flowmo-lr", "0.01"));
        Fails(2, "--seeds: '3..1'", Args("--methods", "base", "--seeds", "3..1"));
        Fails(2, "seed 1 twice", Args("--methods", "base", "--seeds", "0..2,1"));
        Fails(2, "--methods is required", "eval", "--prompts", _prompts, "--out", outDir);
        Fails(1, "does not exist", "eval", "--methods", "base", "--prompts", Path.Combine(_dir, "nope.txt"), "--out", outDir, "--model", _model);
        var bad = Path.Combine(_dir, "bad.txt");
        File.WriteAllText(bad, Prompts[0] + "\na red hexagon slowly grows on a striped background\n");
        Fails(1, "prompt 2 of", "eval", "--methods", "base", "--prompts", bad, "--out", Path.Combine(_dir, "x"), "--model", _model);
        Assert.False(Directory.Exists(Path.Combine(_dir, "x"))); // checked before any output
        Fails(1, "does not exist", "report", Path.Combine(_dir, "missing"));
    }

    [Fact]
    public void ScoresMotionFidelityAgainstAMethodsReferenceVideo()
    {
        // a method without hooks whose reference is the plain video of the same job: identical motion, fidelity 1
        var model = FlowGuide.Sampling.ShippedModel.Load(_model);
        var copy = new EvalMethod("copy", "test: follows the plain video", Array.Empty<string>(), "", _ => null!);
        var setup = new EvalMethodSetup(new JsonObject { ["name"] = "copy" }, false, _ => Array.Empty<FlowGuide.Sampling.IGuidanceHook>(),
            job =>
            {
                var v = job.Model.Pipeline.Generate(job.Prompt, job.Options).Video;
                return v.Reshape(v.Shape.ToArray()[1..]);
            });
        var options = model.Defaults.ToOptions(0) with { Frames = 13 };
        var outDir = Path.Combine(_dir, "fidelity");
        var plan = new EvalPlan(outDir, Prompts.Take(1).ToList(), new ulong[] { 3 }, new[] { (copy, setup) }, options, 8, WriteReport: true);
        var log = new StringWriter();
        Assert.Equal(0, new EvalRunner(model, plan, log).Run(default));
        var row = Assert.Single(EvalResults.Load(outDir));
        Assert.Equal(1.0, row.Metric("motion_fidelity"), 9);
        Assert.Contains(ReportWriter.Shown(new[] { row }), m => m.Key == "motion_fidelity");
        Assert.Contains("motion fidelity", File.ReadAllText(Path.Combine(outDir, ReportWriter.FileName)));
    }

    [Fact]
    public void MotionGuidanceRunsOnEveryVideoWithTheClassifierReadOnce()
    {
        // the classifier is read lazily inside the warm-up's tensor scope: its weights must outlive that scope
        var classifier = new FlowGuide.Models.Video.LatentMotionClassifier(
            FlowGuide.Models.Video.LatentMotionClassifierConfig.Tiny(4, FlowGuide.Training.World.MotionLabels.Names,
                FlowGuide.Training.World.MotionLabels.Subjects), new FlowGuide.Tensors.Rng(5));
        classifier.Save(Path.Combine(_model, GuidanceArgs.MotionClassifierFolder));
        var outDir = Path.Combine(_dir, "mg");
        var r = Run(null, default, "eval", "--methods", "base,motion-guidance", "--prompts", _prompts, "--seeds", "0..1", "--out", outDir,
            "--model", _model, "--frames", "13", "--motion-guidance-scale", "50", "--no-report");
        Assert.True(r.Code == 0, r.Err);
        var rows = File.ReadAllLines(Path.Combine(outDir, "results.csv")).Skip(1).ToArray();
        Assert.Equal(2 * Prompts.Length * 2, rows.Length);
        Assert.Equal(Prompts.Length * 2, rows.Count(l => l.StartsWith("motion-guidance,", StringComparison.Ordinal)));
    }

    [Fact]
    public void ParsesSeedLists()
    {
        Assert.Equal(new ulong[] { 0, 1, 2, 3 }, EvalCommand.ParseSeeds("0..3"));
        Assert.Equal(new ulong[] { 5 }, EvalCommand.ParseSeeds("5"));
        Assert.Equal(new ulong[] { 0, 1, 7, 9 }, EvalCommand.ParseSeeds("0..1, 7,9"));
        Assert.Throws<UsageException>(() => EvalCommand.ParseSeeds("-1"));
        Assert.Throws<UsageException>(() => EvalCommand.ParseSeeds("0..x"));
        Assert.Throws<UsageException>(() => EvalCommand.ParseSeeds("0..1000000"));
    }

    /// <summary>A writer that cancels a token when a line containing <paramref name="marker"/> is written.</summary>
    private sealed class CancelOnLine(string marker, CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(marker, StringComparison.Ordinal)) cts.Cancel();
        }
    }
}
