using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Media;
using FlowGuide.Metrics;
using FlowGuide.Training.World.Analysis;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Cli.Eval;

/// <summary>What one <c>flowguide eval</c> run does (parsed and checked by <see cref="EvalCommand"/>).</summary>
/// <param name="OutDir">Full path of the output folder.</param>
/// <param name="Prompts">Prompts in file order.</param>
/// <param name="Seeds">Generation seeds.</param>
/// <param name="Methods">Selected methods with their read options, in --methods order.</param>
/// <param name="Options">Sampling settings shared by every video (the seed is set per video).</param>
/// <param name="Fps">Frame rate of the written GIFs and of the dynamic-degree frame sampling.</param>
/// <param name="WriteReport">Whether to write report.html at the end.</param>
/// <param name="Sources">A transfer evaluation: the source of each prompt (same order and count as <paramref name="Prompts"/>);
/// every method's row of a job gets motion_fidelity against it. Null for text-to-video.</param>
public sealed record EvalPlan(string OutDir, IReadOnlyList<string> Prompts, IReadOnlyList<ulong> Seeds,
    IReadOnlyList<(EvalMethod Method, EvalMethodSetup Setup)> Methods, GenerationOptions Options, double Fps, bool WriteReport,
    IReadOnlyList<TransferSource>? Sources = null);

/// <summary>
/// Runs an <see cref="EvalPlan"/>: prompt by prompt, seed by seed, method by method (so the videos of one comparison
/// finish together), skipping every (method, prompt, seed) whose row and files already exist. After each video the
/// whole results table is rewritten atomically, so an interruption loses at most the video in progress.
/// </summary>
public sealed class EvalRunner(ShippedModel model, EvalPlan plan, TextWriter output)
{
    /// <summary>The settings file that makes a resumed run refuse to mix results made with other settings.</summary>
    public const string RunFileName = "run.json";

    public int Run(CancellationToken cancel)
    {
        // 1. the folder, its settings and what is already done
        if (plan.Sources is { } sources && sources.Count != plan.Prompts.Count)
            throw new ArgumentException($"EvalRunner: {sources.Count} transfer sources for {plan.Prompts.Count} prompts; expected one per prompt.");
        Directory.CreateDirectory(plan.OutDir);
        CheckSettings();
        var rows = EvalResults.Load(plan.OutDir);
        int before = rows.Count;
        rows.RemoveAll(r => !File.Exists(Path.Combine(plan.OutDir, r.Video)) || !File.Exists(Path.Combine(plan.OutDir, r.Flow)));
        if (rows.Count < before) output.WriteLine($"dropping {before - rows.Count} row(s) whose video or flow file is missing; they will be regenerated");
        var done = rows.Select(r => r.Key).ToHashSet();
        var jobs = (from p in Enumerable.Range(0, plan.Prompts.Count)
                    from s in plan.Seeds
                    from m in plan.Methods
                    select (Prompt: p, Seed: s, m.Method, m.Setup)).ToList();
        int todo = jobs.Count(j => !done.Contains(KeyOf(j.Method.Name, j.Prompt, j.Seed)));
        output.WriteLine($"eval: {plan.Methods.Count} method(s) x {plan.Prompts.Count} prompt(s) x {plan.Seeds.Count} seed(s) = {jobs.Count} videos; " +
                         $"{jobs.Count - todo} already done, {todo} to generate ({plan.Options.Steps} steps {plan.Options.Sampler}, cfg {plan.Options.GuidanceScale}, " +
                         $"{plan.Options.Frames}x{plan.Options.Height}x{plan.Options.Width})");

        // 2. an untimed warm-up per method (the first video would otherwise also pay for JIT compilation), then every missing video
        var warm = Stopwatch.StartNew();
        foreach (var (method, setup) in plan.Methods)
        {
            var first = jobs.FirstOrDefault(j => j.Method == method && !done.Contains(KeyOf(method.Name, j.Prompt, j.Seed)));
            if (first.Method is null) continue;
            using (new TensorScope())
            {
                var options = plan.Options with { Seed = first.Seed };
                var job = new EvalJob(first.Prompt, plan.Prompts[first.Prompt], first.Seed, options, model, plan.Sources?[first.Prompt]);
                model.Pipeline.Generate(job.Prompt, options, setup.CreateHooks(job), cancellationToken: cancel);
            }
        }
        if (todo > 0) output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up (one untimed generation per method): {warm.Elapsed.TotalSeconds:F1} s"));
        int k = 0;
        foreach (var job in jobs)
        {
            string prompt = plan.Prompts[job.Prompt];
            if (done.Contains(KeyOf(job.Method.Name, job.Prompt, job.Seed))) continue;
            cancel.ThrowIfCancellationRequested();
            k++;
            var row = RunOne(job.Method.Name, job.Setup, job.Prompt, prompt, job.Seed, cancel);
            rows.Add(row);
            done.Add(row.Key);
            EvalResults.Save(plan.OutDir, Ordered(rows));
            string fidelity = plan.Sources is null ? "" : string.Create(CultureInfo.InvariantCulture, $"motion fidelity {row.Metric("motion_fidelity"):F4}, ");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{k}/{todo}] {row.Method} seed {row.Seed} prompt {row.PromptIndex + 1}: {row.Seconds:F2} s, peak {row.PeakBytes / 1048576.0:F1} MiB; " +
                $"smoothness {row.Metric("motion_smoothness"):F4}, warping {row.Metric("warping_error"):F5}, {fidelity}" +
                $"world colour/motion {Flag(row.Metric("world_colour"))}/{Flag(row.Metric("world_motion"))}"));
            output.Flush();
        }

        // 3. tables, summary, report
        rows = Ordered(rows);
        EvalResults.Save(plan.OutDir, rows);
        var summary = EvalSummary.Compute(rows, plan.Methods.Select(m => m.Method.Name));
        summary.Save(plan.OutDir);
        output.WriteLine($"wrote {Path.Combine(plan.OutDir, EvalResults.CsvName)}, {EvalResults.JsonName}, {EvalSummary.JsonName}, {EvalSummary.MarkdownName}");
        if (plan.WriteReport)
        {
            var html = ReportWriter.Write(plan.OutDir, rows, summary);
            output.WriteLine($"wrote {html}");
        }
        foreach (var p in summary.Paired.Concat(summary.OtherReferences))
        {
            string fidelity = plan.Sources is null ? "" : $", motion fidelity {EvalSummary.Cell(p.Differences["motion_fidelity"], true)}";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Method} vs {p.Against} ({p.Pairs} pairs): time x{p.TimeRatio.Mean:F2}, smoothness {EvalSummary.Cell(p.Differences["motion_smoothness"], true)}, " +
                $"warping {EvalSummary.Cell(p.Differences["warping_error"], true)}, motion agrees {EvalSummary.Cell(p.Differences["world_motion"], true)}{fidelity}"));
        }
        return 0;
    }

    /// <summary>Generates, writes and scores one video.</summary>
    private EvalRow RunOne(string method, EvalMethodSetup setup, int promptIndex, string prompt, ulong seed, CancellationToken cancel)
    {
        var source = plan.Sources?[promptIndex];
        string job = JobStem(promptIndex, source?.Name ?? "", prompt), stem = $"{job}-s{seed}";
        string video = $"videos/{method}/{stem}.gif", flow = $"flows/{method}/{stem}.png";
        Directory.CreateDirectory(Path.Combine(plan.OutDir, "videos", method));
        Directory.CreateDirectory(Path.Combine(plan.OutDir, "flows", method));
        if (source is not null) WriteSource(source, SourceVideoPath(job));

        // 1. generation: collect garbage first so that the peak counts this video's tensors, not the last one's
        GC.Collect();
        GC.WaitForPendingFinalizers();
        BufferPool.ResetPeak();
        var clock = Stopwatch.StartNew();
        var options = plan.Options with { Seed = seed };
        var evalJob = new EvalJob(promptIndex, prompt, seed, options, model, source);
        Tensor frames;
        using (var scope = new TensorScope())
        {
            var result = model.Pipeline.Generate(prompt, options, setup.CreateHooks(evalJob), cancellationToken: cancel);
            frames = result.Video.Reshape(result.Video.Shape.ToArray()[1..]).Clone(); // [3, F, H, W]
            scope.Keep(frames);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        long peak = BufferPool.PeakLiveBytes;
        cancel.ThrowIfCancellationRequested();

        // 2. metrics and the flow sheet (the flows are estimated once for both)
        clock.Restart();
        var (m, flows) = VideoMetrics.EvaluateWithFlows(frames, plan.Fps);
        var metrics = new Dictionary<string, double>
        {
            ["motion_smoothness"] = m.MotionSmoothness,
            ["warping_error"] = m.WarpingError,
            ["temporal_flickering"] = m.TemporalFlickering,
            ["dynamic_degree"] = m.Dynamic.IsDynamic ? 1 : 0,
            ["subject_consistency"] = m.SubjectConsistency,
            ["background_consistency"] = m.BackgroundConsistency,
        };
        if ((setup.Reference?.Invoke(evalJob) ?? source?.Video) is { } reference)
        {
            var (standard, moving) = MotionFidelity.ComputeBoth(frames, reference);
            metrics["motion_fidelity"] = standard;
            metrics["motion_fidelity_moving"] = moving;
        }
        string observed = "";
        if (WorldPrompt.TryParse(prompt, out var parsed, out _))
        {
            // a transfer job asks for its source's motion: a world clip's (motion, speed, pan), unknown for a file
            var asked = source?.WorldCaption is { } caption ? parsed! with { Motion = caption.Motion, Speed = caption.Speed, Pan = caption.Pan } : parsed!;
            var a = MotionWorldAnalyser.Default.Analyse(frames, asked);
            metrics["world_colour"] = a.ColourFound ? 1 : 0;
            metrics["world_motion"] = source is not null && source.WorldCaption is null ? double.NaN : a.MotionAgrees ? 1 : 0;
            metrics["world_shape"] = a.ShapeAgrees ? 1 : 0;
            metrics["world_area_cv"] = a.AreaCv;
            metrics["world_colour_cv"] = a.ColourCv;
            metrics["world_area_jitter"] = a.AreaJitter;
            observed = a.Observed + (a.ShapeGuess is { } g ? $"; shape guess {g.ToString().ToLowerInvariant()}" : "");
        }
        double metricSeconds = clock.Elapsed.TotalSeconds;

        // 3. files: the flow sheet first, the video last, so a video on disk always has its sheet
        try
        {
            FlowSheet.Write(Path.Combine(plan.OutDir, flow), flows);
            VideoIO.Write(Path.Combine(plan.OutDir, video), frames, plan.Fps);
        }
        catch (MediaException e)
        {
            throw new IOException(e.Message, e);
        }
        frames.Dispose();
        return new EvalRow
        {
            Method = method, PromptIndex = promptIndex, Prompt = prompt, Seed = seed, Video = video, Flow = flow, Source = source?.Name ?? "",
            Seconds = seconds, PeakBytes = peak, MetricSeconds = metricSeconds, Metrics = metrics, WorldObserved = observed,
        };
    }

    /// <summary>The resume key of a (method, prompt, seed) of the plan.</summary>
    private (string, string, string, ulong) KeyOf(string method, int prompt, ulong seed) =>
        (method, plan.Sources?[prompt].Name ?? "", plan.Prompts[prompt], seed);

    /// <summary>
    /// "pNNN-HASH": the prompt's number and the first 8 hex digits of the SHA-256 of the prompt, or for a transfer job of
    /// "SOURCE\nPROMPT" (so two jobs with one prompt and different sources get different files).
    /// </summary>
    internal static string JobStem(int promptIndex, string source, string prompt) =>
        $"p{promptIndex + 1:D3}-{ShortHash(source.Length == 0 ? prompt : source + "\n" + prompt)}";

    /// <summary>Where a transfer job's prepared source GIF goes, relative to the output folder.</summary>
    internal static string SourceVideoPath(string job) => $"sources/{job}.gif";

    /// <summary>Writes the prepared source of a job once (what every method's motion fidelity is measured against).</summary>
    private void WriteSource(TransferSource source, string relative)
    {
        string path = Path.Combine(plan.OutDir, relative);
        if (File.Exists(path)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try { VideoIO.Write(path, source.Video, plan.Fps); }
        catch (MediaException e) { throw new IOException(e.Message, e); }
    }

    /// <summary>
    /// Writes run.json on the first run; later runs must match its sampling settings and, for every method already in
    /// it, that method's settings (new methods are added).
    /// </summary>
    private void CheckSettings()
    {
        string path = Path.Combine(plan.OutDir, RunFileName);
        var o = plan.Options;
        var sampling = SamplingArgs.SettingsJson(o, plan.Fps, model.Directory);
        var methods = new JsonObject();
        if (File.Exists(path))
        {
            JsonObject old;
            try { old = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new FormatException("not an object"); }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                throw new InvalidDataException($"'{path}' is not a FlowGuide eval settings file ({e.Message}).", e);
            }
            if (old["sampling"] is JsonObject oldSampling)
                foreach (var (key, value) in sampling)
                    if (!JsonNode.DeepEquals(oldSampling[key], value))
                        throw new InvalidOperationException($"'{plan.OutDir}' holds results made with {key} = {oldSampling[key]?.ToJsonString() ?? "null"}, this run asks for {value?.ToJsonString() ?? "null"}; use the same settings to resume, or another --out folder.");
            if (old["methods"] is JsonObject oldMethods)
                foreach (var (name, value) in oldMethods) methods[name] = value?.DeepClone();
        }
        foreach (var (method, setup) in plan.Methods)
        {
            if (methods[method.Name] is JsonNode previous && !JsonNode.DeepEquals(previous, setup.Settings))
                throw new InvalidOperationException($"'{plan.OutDir}' holds {method.Name} results made with {previous.ToJsonString()}, this run asks for {setup.Settings.ToJsonString()}; use the same options to resume, or another --out folder.");
            methods[method.Name] = setup.Settings.DeepClone();
        }
        var run = new JsonObject { ["generator"] = "flowguide eval", ["sampling"] = sampling, ["methods"] = methods };
        EvalResults.WriteText(path, run.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Rows in the plan's order (job, seed, method); rows of prompts, seeds or methods not in the plan go last.</summary>
    private List<EvalRow> Ordered(List<EvalRow> rows)
    {
        var promptRank = plan.Prompts.Select((p, i) => (Key: (plan.Sources?[i].Name ?? "", p), i)).ToDictionary(x => x.Key, x => x.i);
        var seedRank = plan.Seeds.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
        var methodRank = plan.Methods.Select((m, i) => (m.Method.Name, i)).ToDictionary(x => x.Name, x => x.i);
        return rows.OrderBy(r => promptRank.GetValueOrDefault((r.Source, r.Prompt), int.MaxValue)).ThenBy(r => r.Prompt, StringComparer.Ordinal)
            .ThenBy(r => r.Source, StringComparer.Ordinal)
            .ThenBy(r => seedRank.GetValueOrDefault(r.Seed, int.MaxValue)).ThenBy(r => r.Seed)
            .ThenBy(r => methodRank.GetValueOrDefault(r.Method, int.MaxValue)).ThenBy(r => r.Method, StringComparer.Ordinal).ToList();
    }

    /// <summary>First 8 hex digits of the prompt's SHA-256: keeps file names stable if the prompt file is reordered.</summary>
    internal static string ShortHash(string prompt) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(prompt)))[..8];

    private static string Flag(double v) => double.IsNaN(v) ? "-" : v > 0 ? "yes" : "no";
}
