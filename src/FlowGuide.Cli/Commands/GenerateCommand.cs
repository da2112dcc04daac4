using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Media;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Cli;

/// <summary>
/// <c>flowguide generate</c>: text to video with a model folder (the shipped small model by default). Everything a
/// user can get wrong — unknown prompt words, a frame count the VAE cannot take, an output path that cannot be written,
/// a missing model — is checked before sampling starts, so a failed run costs no time and leaves no file behind.
/// </summary>
public sealed class GenerateCommand : Command
{
    /// <summary>The shipped model's folder relative to the repository root.</summary>
    public const string DefaultModelPath = "models/flowguide-small";

    private static readonly HashSet<string> FfmpegExtensions = new(StringComparer.OrdinalIgnoreCase) { ".mp4", ".mov", ".mkv", ".webm" };

    public override string Name => "generate";
    public override string Summary => "generate a video from a text prompt";
    public override string Usage =>
        "flowguide generate --prompt \"a red circle moves left across a striped background\" [options]\n\n" +
        "  --prompt TEXT       what to show (words from the model's vocabulary)\n" +
        "  --negative TEXT     negative prompt for classifier-free guidance (default empty)\n" +
        "  --seed N            random seed (default: a random one, printed and stored in the metadata)\n" +
        "  --steps N           sampling steps (model default)\n" +
        "  --cfg X             guidance scale (model default; 1 disables the unconditional pass)\n" +
        "  --shift X           flow shift of the sigma schedule (model default)\n" +
        "  --sampler NAME      euler or unipc (model default)\n" +
        "  --frames N          frame count, k*T+1 for the VAE's temporal factor T (model default)\n" +
        "  --out PATH          video.gif, video.mp4 (needs ffmpeg), video.y4m or a folder/ of PNG frames (default video.gif)\n" +
        "  --model DIR         model folder (default " + DefaultModelPath + " in the FlowGuide checkout)\n" +
        GuidanceArgs.Usage + "\n" +
        "Progress goes to stderr; a summary (time, peak memory) to stdout. GIF/MP4/Y4M outputs get a sidecar\n" +
        "OUT.json with the prompt, seed and settings; a frame folder gets flowguide.json inside.";

    public override IReadOnlySet<string> Flags => new HashSet<string>(GuidanceArgs.Flags);

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var prompt = args.String("prompt") ?? throw new UsageException("--prompt is required");
        var outPath = args.String("out", "video.gif");
        var sampling = SamplingArgs.Read(args);
        var (hooks, guidanceMeta) = GuidanceArgs.Read(args);
        var motion = GuidanceArgs.ReadMotionGuidance(args);
        args.EnsureAllUsed(0);

        // 1. check the output path and the model before any work
        var target = CheckOutput(outPath);
        var clock = Stopwatch.StartNew();
        BufferPool.ResetPeak();
        var (model, options) = sampling.Load(prompt);
        // motion guidance (on by default for a model that ships a classifier) runs before any other method
        var (motionHook, motionMeta) = motion.Create(model);
        if (motionHook is not null)
        {
            hooks = new[] { motionHook }.Concat(hooks).ToList();
            guidanceMeta = guidanceMeta["name"]?.GetValue<string>() == "none" ? motionMeta
                : new JsonObject { ["name"] = "motion-guidance," + guidanceMeta["name"], ["methods"] = new JsonArray(motionMeta, guidanceMeta) };
        }
        double loadSeconds = clock.Elapsed.TotalSeconds;
        var d = model.Defaults;

        // 2. sample with a progress bar on stderr
        var bar = new ProgressBar(Console.Error, Console.IsErrorRedirected);
        var result = model.Pipeline.Generate(prompt, options, hooks, progress: new SyncProgress<StepProgress>(bar.Report), cancellationToken: cancel);
        bar.Finish();
        double sampleSeconds = clock.Elapsed.TotalSeconds - loadSeconds;
        if (motionHook is FlowGuide.Guidance.MotionClassifierHook mh)
        {
            if (mh.Searches.Count > 0) motionMeta["noise_search"] = GuidanceArgs.SearchMetadata(mh.Searches[^1]);
            motionMeta["steered"] = mh.Guides(prompt);
        }
        cancel.ThrowIfCancellationRequested();

        // 3. write the video, then its metadata; never leave one without the other
        var video = result.Video.Reshape(result.Video.Shape.ToArray()[1..]); // [3, F, H, W]
        var meta = Metadata(prompt, options, model, d.Fps, guidanceMeta);
        WriteOutputs(target, video, d.Fps, meta);

        WriteSummary(output, target, options, "", clock.Elapsed.TotalSeconds, loadSeconds, sampleSeconds, $"guidance {guidanceMeta["name"]}");
        return 0;
    }

    /// <summary>
    /// The two closing lines of a sampling command: what was written (with <paramref name="written"/> appended), then the
    /// time split, the sampler settings, <paramref name="method"/>, and peak tensor and process memory.
    /// </summary>
    internal static void WriteSummary(TextWriter output, OutputTarget target, GenerationOptions options, string written,
        double totalSeconds, double loadSeconds, double sampleSeconds, string method)
    {
        long peakTensors = BufferPool.PeakLiveBytes;
        long peakProcess = Process.GetCurrentProcess().PeakWorkingSet64;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {target.Display} ({options.Frames} frames, {options.Height}x{options.Width}) seed {options.Seed}{written}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"time {totalSeconds:F2} s (load {loadSeconds:F2} s, sampling+decode {sampleSeconds:F2} s, {options.Steps} steps {options.Sampler}, cfg {options.GuidanceScale}, {method}); peak tensor memory {peakTensors / 1048576.0:F1} MiB, peak working set {peakProcess / 1048576.0:F1} MiB"));
    }

    /// <summary>Where the output goes: a file (with a sidecar JSON) or a frame folder (with flowguide.json inside).</summary>
    internal sealed record OutputTarget(string Path, bool IsFolder, string MetadataPath, string Display);

    internal static OutputTarget CheckOutput(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--out is empty");
        string trimmed = Path.TrimEndingDirectorySeparator(path);
        string ext = Path.GetExtension(trimmed);
        bool folder = Directory.Exists(path) || Path.EndsInDirectorySeparator(path) || ext.Length == 0;
        string full = Path.GetFullPath(trimmed);
        string parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"cannot write '{path}': it has no parent folder.");
        if (!Directory.Exists(parent)) throw new DirectoryNotFoundException($"cannot write '{path}': folder '{parent}' does not exist.");
        if (folder)
        {
            if (File.Exists(full)) throw new IOException($"cannot write frames to '{path}': a file of that name exists.");
        }
        else
        {
            if (Directory.Exists(full)) throw new IOException($"cannot write '{path}': a folder of that name exists.");
            if (!(ext.Equals(".gif", StringComparison.OrdinalIgnoreCase) || ext.Equals(".y4m", StringComparison.OrdinalIgnoreCase) || FfmpegExtensions.Contains(ext)))
                throw new ArgumentException($"cannot write '{path}': unknown video extension '{ext}'; use .gif, .mp4, .y4m or a folder/ for PNG frames.");
            if (FfmpegExtensions.Contains(ext) && !Ffmpeg.IsAvailable)
                throw new IOException($"cannot write '{path}': {ext} needs ffmpeg, which is not installed; use .gif, .y4m or a folder/ instead.");
        }
        ProbeWritable(folder && Directory.Exists(full) ? full : parent, path);
        return new OutputTarget(full, folder, folder ? Path.Combine(full, "flowguide.json") : full + ".json", path);
    }

    /// <summary>Creates and deletes a probe file so a read-only folder fails now, not after sampling.</summary>
    private static void ProbeWritable(string dir, string given)
    {
        string probe = Path.Combine(dir, $".flowguide-probe-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe)) { }
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write '{given}': folder '{dir}' is not writable ({e.Message})", e);
        }
    }

    internal static void WriteOutputs(OutputTarget target, Tensor video, double fps, string metadata)
    {
        bool existed = target.IsFolder ? Directory.Exists(target.Path) : File.Exists(target.Path);
        try
        {
            VideoIO.Write(target.IsFolder ? target.Path + Path.DirectorySeparatorChar : target.Path, video, fps);
            AtomicFile.Write(target.MetadataPath, s => { using var w = new StreamWriter(s); w.Write(metadata); }, "metadata");
        }
        catch (MediaException e)
        {
            if (!existed) // a video without its metadata is a partial output: remove it
            {
                try
                {
                    if (target.IsFolder && Directory.Exists(target.Path)) Directory.Delete(target.Path, true);
                    else if (!target.IsFolder && File.Exists(target.Path)) File.Delete(target.Path);
                }
                catch (IOException) { }
            }
            throw new IOException(e.Message, e);
        }
    }

    private static string Metadata(string prompt, GenerationOptions o, ShippedModel model, double fps, JsonObject guidance) =>
        SamplingArgs.MetadataJson("flowguide generate", prompt, o, model, fps, ("guidance", guidance));

    /// <summary><see cref="DefaultModelPath"/> as <see cref="ShippedFiles.Find"/> resolves it (ShippedModel.Load names it when missing).</summary>
    internal static string FindDefaultModel() => ShippedFiles.Find(DefaultModelPath);

    /// <summary>IProgress that runs the callback on the reporting thread (Progress&lt;T&gt; would post it to the thread pool).</summary>
    internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>A one-line text progress bar (steps, elapsed, ETA), redrawn with '\r' on a terminal, one line per update otherwise.</summary>
internal sealed class ProgressBar(TextWriter writer, bool redirected, int width = 30)
{
    private bool _drawn;

    public void Report(StepProgress p)
    {
        int filled = (int)((long)width * p.Step / Math.Max(1, p.TotalSteps));
        double elapsed = p.Elapsed.TotalSeconds;
        double eta = p.Step > 0 ? elapsed / p.Step * (p.TotalSteps - p.Step) : 0;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"[{new string('#', filled)}{new string('.', width - filled)}] {p.Step}/{p.TotalSteps} steps  {elapsed:F1} s elapsed  ETA {eta:F1} s");
        if (redirected) writer.WriteLine(line);
        else { writer.Write('\r' + line); _drawn = true; }
        writer.Flush();
    }

    public void Finish()
    {
        if (_drawn) writer.WriteLine();
        writer.Flush();
    }
}
