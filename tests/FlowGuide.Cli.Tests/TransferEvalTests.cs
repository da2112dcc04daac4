using System.Text.Json.Nodes;
using FlowGuide.Cli.Eval;
using FlowGuide.Guidance;
using FlowGuide.Media;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using FlowGuide.Training.World;
using FlowGuide.Training.World.Analysis;
using Xunit.Abstractions;

namespace FlowGuide.Cli.Tests;

/// <summary>
/// <c>flowguide eval --transfer</c> on a tiny random model folder (5 frames of 16 x 16, 4 steps, FlowMotion guiding the
/// first 2): transfer files and their errors, that every method of a job runs from the job's source and seed exactly as
/// <c>flowguide transfer</c> does, that the ablations differ from FlowMotion in their one switch, resuming, and
/// motion fidelity on every row.
/// </summary>
public sealed class TransferEvalTests : IDisposable
{
    private const string FilePrompt = "a red circle quickly moves right across a striped background";
    private const string WorldPrompt = "a yellow star quickly bounces around on a striped background";
    private const string WorldSource = "world:heldout:4"; // a white triangle bouncing (prompts/transfer-world.txt's first job)

    private readonly ITestOutputHelper _output;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-tev-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _model, _jobs, _source;

    public TransferEvalTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_dir);
        _model = TinyModel.Create(Path.Combine(_dir, "model"));
        var media = Directory.CreateDirectory(Path.Combine(_dir, "media")).FullName;
        _source = Path.Combine(media, "square.y4m");
        VideoIO.Write(_source, MovingSquare(9), 12);
        // the file sits in a subfolder; "media/square.y4m" is found one folder up
        var lists = Directory.CreateDirectory(Path.Combine(_dir, "lists")).FullName;
        _jobs = Path.Combine(lists, "jobs.txt");
        File.WriteAllText(_jobs, $"# two jobs\n\nmedia/square.y4m | {FilePrompt}\n{WorldSource} | {WorldPrompt}\n");
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A white square moving right on black, [3, frames, 20, 24].</summary>
    private static Tensor MovingSquare(int frames)
    {
        var v = Tensor.Full(-1f, 3, frames, 20, 24);
        for (int c = 0; c < 3; c++)
            for (int f = 0; f < frames; f++)
                for (int y = 6; y < 14; y++)
                    for (int x = 2 + f; x < 10 + f; x++) v[c, f, y, x] = 1f;
        return v;
    }

    private (int Code, string Out, string Err) Eval(string outDir, string methods, TextWriter? log = null, CancellationToken cancel = default) =>
        EvalCommandTests.Run(log, cancel, "eval", "--methods", methods, "--transfer", _jobs, "--seeds", "3", "--out", outDir, "--model", _model,
            "--steps", "4", "--flowmotion-guided-steps", "2");

    private static void Fails(int code, string contains, params string[] argv)
    {
        var r = EvalCommandTests.Run(null, default, argv);
        Assert.True(r.Code == code, $"exit {r.Code} for {string.Join(' ', argv)}: {r.Err}");
        Assert.Contains(contains, r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void ReadsTransferFilesAndNamesTheBadLine()
    {
        // 1. a good file: comments skipped, a world reference, a relative path found above the file's folder, an absolute path
        File.AppendAllText(_jobs, $"{_source} | {WorldPrompt}\nworld:Test:17 | {FilePrompt}\n");
        var jobs = TransferJobs.Read(_jobs);
        Assert.Equal(new[] { 3, 4, 5, 6 }, jobs.Select(j => j.Line));
        Assert.Equal(Path.GetFullPath(_source), jobs[0].Path);
        Assert.Null(jobs[0].World);
        Assert.Equal((WorldSplit.HeldOut, 4L), jobs[1].World);
        Assert.Equal(Path.GetFullPath(_source), jobs[2].Path);
        Assert.Equal((WorldSplit.Test, 17L), jobs[3].World);
        Assert.Equal(FilePrompt, jobs[3].Prompt);

        // 2. bad lines, each named by line and reason
        string Bad(string name, string text)
        {
            var path = Path.Combine(_dir, "lists", name);
            File.WriteAllText(path, "# header\n" + text + "\n");
            return path;
        }
        void Throws<T>(string text, params string[] contains) where T : Exception
        {
            var e = Assert.Throws<T>(() => TransferJobs.Read(Bad("bad.txt", text)));
            foreach (var c in contains) Assert.Contains(c, e.Message);
        }
        Throws<InvalidDataException>("world:heldout:4 " + WorldPrompt, "line 2", "SOURCE | TARGET PROMPT");
        Throws<InvalidDataException>("world:heldout:4 | ", "line 2", "SOURCE | TARGET PROMPT");
        Throws<InvalidDataException>("world:nowhere:4 | " + WorldPrompt, "line 2", "'world:nowhere:4' is not a world reference");
        Throws<InvalidDataException>("world:heldout:-1 | " + WorldPrompt, "not a world reference");
        Throws<InvalidDataException>("world:heldout:four | " + WorldPrompt, "not a world reference");
        Throws<InvalidDataException>("world:heldout:1099511627776 | " + WorldPrompt, "not a world reference");
        Throws<InvalidDataException>("world:heldout | " + WorldPrompt, "not a world reference");
        Throws<InvalidDataException>($"{WorldSource} | {WorldPrompt}\n{WorldSource} | {WorldPrompt}", "line 3", "repeats", "line 2");
        Throws<FileNotFoundException>("media/missing.mp4 | " + WorldPrompt, "line 2", "'media/missing.mp4' does not exist");
        Throws<InvalidDataException>("# only comments", "holds no jobs");
        Assert.Throws<FileNotFoundException>(() => TransferJobs.Read(Path.Combine(_dir, "nope.txt")));

        // 3. through the command: one line, exit 1 for bad data, 2 for usage; nothing written
        var outDir = Path.Combine(_dir, "never");
        string[] Args(string file, string methods = "base,flowmotion") =>
            new[] { "eval", "--methods", methods, "--transfer", file, "--out", outDir, "--model", _model, "--steps", "4" };
        Fails(1, "not a world reference", Args(Bad("b1.txt", "world:heldout:x | " + WorldPrompt)));
        Fails(1, "'media/missing.mp4' does not exist", Args(Bad("b2.txt", "media/missing.mp4 | " + WorldPrompt)));
        File.WriteAllText(Path.Combine(_dir, "media", "broken.gif"), "not a gif");
        Fails(1, "line 2", Args(Bad("b3.txt", "media/broken.gif | " + WorldPrompt)));
        Fails(1, "prompt 1 of", Args(Bad("b4.txt", WorldSource + " | a red hexagon slowly grows on a striped background")));
        Fails(2, "give --transfer FILE", "eval", "--methods", "base,flowmotion-no-vr", "--prompts", Bad("p.txt", WorldPrompt), "--out", outDir, "--model", _model);
        Fails(2, "either --prompts FILE", "eval", "--methods", "base", "--prompts", Bad("p.txt", WorldPrompt), "--transfer", _jobs, "--out", outDir);
        Fails(2, "options of method 'flowmotion'", Args(_jobs, "base,noised-source").Append("--flowmotion-lr").Append("0.01").ToArray());
        Fails(2, "options of method 'noised-source'", Args(_jobs, "base,flowmotion").Append("--noised-source-strength").Append("0.5").ToArray());
        Fails(2, "--noised-source-strength must lie in [0, 1]", Args(_jobs, "noised-source").Append("--noised-source-strength").Append("1.5").ToArray());
        Fails(2, "--flowmotion-guided-steps expects", Args(_jobs).Append("--flowmotion-guided-steps").Append("x").ToArray());
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void AblationsDifferFromFlowMotionInExactlyTheirSwitch()
    {
        // 1. the settings recorded in run.json: name and the one switch
        var args = new Args(new[] { "--flowmotion-lr", "0.01", "--flowmotion-iterations", "2" }, new HashSet<string>());
        var setups = new[] { TransferEvalMethods.FlowMotionName, TransferEvalMethods.NoDifferenceAlignmentName, TransferEvalMethods.NoVelocityRegularizationName }
            .Select(n => EvalMethods.Find(n)!.Read(args)).ToArray();
        Assert.All(setups, s => Assert.True(s.OptionsGiven));
        Assert.Equal(0.01, setups[0].Settings["learning_rate"]!.GetValue<double>());
        Assert.Equal(new[] { "difference_alignment", "name" }, Differing(setups[0].Settings, setups[1].Settings));
        Assert.Equal(new[] { "name", "velocity_regularization" }, Differing(setups[0].Settings, setups[2].Settings));
        Assert.False(setups[1].Settings["difference_alignment"]!.GetValue<bool>());
        Assert.False(setups[2].Settings["velocity_regularization"]!.GetValue<bool>());

        // 2. the hooks they build: the same options but for the switch
        var model = ShippedModel.Load(_model);
        var options = model.Defaults.ToOptions(3) with { Steps = 4 };
        var source = Source(model, options, TransferJobs.Read(_jobs)[0]);
        var job = new EvalJob(0, FilePrompt, 3, options, model, source);
        var hooks = setups.Select(s => (FlowMotionHook)Assert.Single(s.CreateHooks(job))).ToArray();
        Assert.True(hooks[0].Options.DifferenceAlignment && hooks[0].Options.VelocityRegularization);
        Assert.Equal(hooks[0].Options with { DifferenceAlignment = false }, hooks[1].Options);
        Assert.Equal(hooks[0].Options with { VelocityRegularization = false }, hooks[2].Options);
        Assert.Equal(new FlowMotionOptions().Alpha, hooks[0].Options.Alpha);
        Assert.Equal(0.01, hooks[0].Options.LearningRate);

        // 3. the defaults are the released ones; a method that needs a source refuses a job without one
        var defaults = (FlowMotionHook)Assert.Single(EvalMethods.Find(TransferEvalMethods.FlowMotionName)!
            .Read(new Args(Array.Empty<string>(), new HashSet<string>())).CreateHooks(job));
        Assert.Equal(new FlowMotionOptions(), defaults.Options);
        var noSource = job with { Source = null };
        Assert.Contains("--transfer", Assert.Throws<InvalidOperationException>(() => setups[0].CreateHooks(noSource)).Message);
    }

    private static TransferSource Source(ShippedModel model, GenerationOptions o, TransferJob job)
    {
        var (video, caption, warnings) = TransferJobs.Conform(job, o.Frames, o.Height, o.Width);
        return TransferJobs.Encode(job, video, caption, warnings, model.Vae);
    }

    private static string[] Differing(JsonObject a, JsonObject b) =>
        a.Select(kv => kv.Key).Union(b.Select(kv => kv.Key)).Where(k => !JsonNode.DeepEquals(a[k], b[k])).OrderBy(k => k, StringComparer.Ordinal).ToArray();

    [Fact]
    public void EveryMethodRunsFromTheJobsSourceAndSeedAndGetsMotionFidelity()
    {
        var outDir = Path.Combine(_dir, "run");
        var r = Eval(outDir, "base,noised-source,flowmotion,flowmotion-no-da,flowmotion-no-vr");
        _output.WriteLine(r.Out);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("0 already done, 10 to generate", r.Out);

        // 1. every row: its job's source, a motion fidelity; world motion only where the source is a world clip
        var rows = EvalResults.Load(outDir);
        Assert.Equal(10, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal(row.Prompt == FilePrompt ? "media/square.y4m" : WorldSource, row.Source);
            Assert.InRange(row.Metric("motion_fidelity"), -1, 1);
            Assert.Contains(row.Metric("world_colour"), new[] { 0.0, 1.0 });
            if (row.Source == WorldSource) Assert.Contains(row.Metric("world_motion"), new[] { 0.0, 1.0 });
            else Assert.True(double.IsNaN(row.Metric("world_motion")), $"world_motion {row.Metric("world_motion")} for a file source");
        }
        Assert.Contains(",source,", File.ReadLines(Path.Combine(outDir, EvalResults.CsvName)).First());

        // 2. each method's video is what 'flowguide transfer' makes from the same source, prompt and seed
        var pick = (string method) => File.ReadAllBytes(Path.Combine(outDir, rows.Single(x => x.Method == method && x.Prompt == FilePrompt).Video));
        var cases = new (string Method, string[] Options)[]
        {
            ("base", new[] { "--baseline", "plain" }),
            ("noised-source", new[] { "--baseline", "noised-source" }),
            ("flowmotion", new[] { "--guided-steps", "2" }),
            ("flowmotion-no-da", new[] { "--guided-steps", "2", "--no-difference-alignment" }),
            ("flowmotion-no-vr", new[] { "--guided-steps", "2", "--no-velocity-regularization" }),
        };
        var saved = Path.Combine(_dir, "prepared.gif");
        foreach (var (method, options) in cases)
        {
            var outPath = Path.Combine(_dir, method + ".gif");
            var t = EvalCommandTests.Run(null, default, new[] { "transfer", "--source", _source, "--prompt", FilePrompt, "--model", _model,
                "--seed", "3", "--steps", "4", "--out", outPath, "--save-source", saved }.Concat(options).ToArray());
            Assert.True(t.Code == 0, t.Err);
            Assert.True(File.ReadAllBytes(outPath).SequenceEqual(pick(method)), $"{method}: eval and transfer differ");
        }
        // the five outputs differ (measured on the float frames: the tiny model's GIFs may quantise two alike)
        Assert.Equal(5, rows.Where(x => x.Prompt == FilePrompt).Select(x => (x.Metric("motion_fidelity"), x.Metric("warping_error"))).Distinct().Count());

        // 3. the prepared source written once per job is the one 'transfer --save-source' writes
        var fileRow = rows.First(x => x.Prompt == FilePrompt);
        var sourceGif = Path.Combine(outDir, EvalRunner.SourceVideoPath(EvalRunner.JobStem(fileRow.PromptIndex, fileRow.Source, fileRow.Prompt)));
        Assert.Equal(File.ReadAllBytes(saved), File.ReadAllBytes(sourceGif));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(outDir, "sources")).Length);

        // 4. paired differences against base and against noised-source; the report shows the sources
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, EvalSummary.JsonName)))!;
        Assert.Equal(2, summary["prompts"]!.GetValue<int>());
        Assert.Equal(2, summary["paired_vs_base"]!["flowmotion"]!["pairs"]!.GetValue<int>());
        var vsNoised = summary["paired_vs"]!["noised-source"]!.AsObject();
        Assert.Equal(new[] { "base", "flowmotion", "flowmotion-no-da", "flowmotion-no-vr" }, vsNoised.Select(kv => kv.Key).Order(StringComparer.Ordinal));
        Assert.Equal(2, vsNoised["flowmotion"]!["differences"]!["motion_fidelity"]!["n"]!.GetValue<int>());
        Assert.Contains("Paired differences against noised-source", File.ReadAllText(Path.Combine(outDir, EvalSummary.MarkdownName)));
        var html = File.ReadAllText(Path.Combine(outDir, ReportWriter.FileName));
        Assert.Contains("sources/", html);
        Assert.Contains("Paired differences against noised-source", html);
    }

    [Fact]
    public void ResumesATransferRunAfterAnInterruption()
    {
        var outDir = Path.Combine(_dir, "resume");
        // 1. cancel as soon as the second video is reported
        using var cts = new CancellationTokenSource();
        var first = Eval(outDir, "base,noised-source,flowmotion", new CancelOnLine("[2/6]", cts), cts.Token);
        Assert.Equal(130, first.Code);
        var partial = EvalResults.Load(outDir);
        Assert.Equal(2, partial.Count);
        var bytes = partial.ToDictionary(x => x.Video, x => File.ReadAllBytes(Path.Combine(outDir, x.Video)));

        // 2. the same command: only the missing 4; what was done is kept, byte for byte
        var second = Eval(outDir, "base,noised-source,flowmotion");
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains("2 already done, 4 to generate", second.Out);
        var rows = EvalResults.Load(outDir);
        Assert.Equal(6, rows.Count);
        foreach (var (video, b) in bytes) Assert.Equal(b, File.ReadAllBytes(Path.Combine(outDir, video)));
        Assert.All(rows, x => Assert.True(double.IsFinite(x.Metric("motion_fidelity")), $"{x.Method} {x.Source}: no motion fidelity"));

        // 3. adding the ablations extends the run; other FlowMotion settings are refused
        var third = Eval(outDir, "base,noised-source,flowmotion,flowmotion-no-vr");
        Assert.True(third.Code == 0, third.Err);
        Assert.Contains("6 already done, 2 to generate", third.Out);
        var changed = EvalCommandTests.Run(null, default, "eval", "--methods", "flowmotion", "--transfer", _jobs, "--seeds", "3", "--out", outDir,
            "--model", _model, "--steps", "4", "--flowmotion-guided-steps", "1");
        Assert.Equal(1, changed.Code);
        Assert.Contains("flowmotion results made with", changed.Err);
    }

    private static string ShippedFile => Path.Combine(FlowGuide.TestSupport.RepoPaths.RepoRoot, "prompts", "transfer-world.txt");

    [Fact]
    public void ShippedTransferFileIsWhatThePromptsCommandWrites()
    {
        var o = new StringWriter();
        Assert.Equal(0, Cli.Run(new[] { "prompts", "--transfer" }, o, new StringWriter()));
        Assert.Equal(o.ToString(), File.ReadAllText(ShippedFile).ReplaceLineEndings("\n"));
        Fails(2, "--count must be at least 11", "prompts", "--transfer", "--count", "5");
        Fails(2, "--split does not apply", "prompts", "--transfer", "--split", "test");
    }

    [Fact]
    public void ShippedTransferSetKeepsTheMotionAndChangesShapeColourAndBackground()
    {
        var jobs = TransferJobs.Read(ShippedFile);
        var world = jobs.Where(j => j.World is not null).ToList();
        Assert.True(world.Count >= 16, $"{world.Count} world jobs");
        Assert.Equal(world.Count, world.Select(j => j.Source).Distinct().Count());
        var real = Assert.Single(jobs, j => j.World is null);
        Assert.EndsWith(Path.Combine("data", "video", "cutie-example.mp4"), real.Path);
        Assert.True(File.Exists(real.Path));
        Assert.NotNull(FlowGuide.Training.World.Analysis.WorldPrompt.Parse(real.Prompt));
        var motions = new HashSet<MotionClass>();
        foreach (var job in world)
        {
            var (split, index) = job.World!.Value;
            Assert.Equal(WorldSplit.HeldOut, split);
            var spec = MotionWorld.Sample(index, split, 17, 64, 64); // the shipped model's size
            Assert.True(TransferPrompts.Eligible(spec), $"{job.Source}: {CaptionGrammar.Describe(spec)}");
            var source = FlowGuide.Training.World.Analysis.WorldPrompt.Parse(CaptionGrammar.Describe(spec));
            var target = FlowGuide.Training.World.Analysis.WorldPrompt.Parse(job.Prompt);
            Assert.Equal((source.Motion, source.Speed), (target.Motion, target.Speed));
            Assert.NotEqual(source.Subject.Shape, target.Subject.Shape);
            Assert.NotEqual(source.Subject.Color, target.Subject.Color);
            Assert.NotEqual(source.Background, target.Background);
            Assert.Empty(target.Companions);
            motions.Add(source.Motion);
        }
        Assert.Equal(TransferPrompts.TravellingMotions.OrderBy(m => m), motions.OrderBy(m => m));
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
