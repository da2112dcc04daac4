using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowGuide.Guidance;
using FlowGuide.Media;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Cli;

/// <summary>
/// <c>flowguide transfer</c>: motion transfer from a source video to a text prompt with FlowMotion (or, for comparison,
/// the noised-source baseline or plain generation with the same model, seed and source preparation). The source is
/// read and checked before the model loads, and the output path before either, so a bad input costs no sampling time
/// and leaves no file behind.
/// </summary>
public sealed class TransferCommand : Command
{
    public override string Name => "transfer";
    public override string Summary => "transfer the motion of a source video to a text prompt (FlowMotion)";
    public override string Usage =>
        "flowguide transfer --source VIDEO --prompt \"a blue square moves right across a checkered background\" [options]\n\n" +
        "  --source VIDEO      the motion to transfer: a video file ffmpeg decodes (.mp4 ...), .y4m, .gif or a folder of frames\n" +
        "  --prompt TEXT       what the output shows (words from the model's vocabulary)\n" +
        "  --frame-sampling M  uniform (frames spread over the whole clip, default) or first (the first frames at the\n" +
        "                      source's speed); a clip shorter than the model's frame count is always resampled\n" +
        "                      uniformly with repeated frames, with a warning (its motion slows down)\n" +
        "  --fit MODE          crop (scale and centre-crop, default), pad (letterbox with black) or stretch\n" +
        "  --mode NAME         latent-prediction (default) or clean-latent: the source motion representation\n" +
        "  --alpha X           latent alignment weight (default 20)\n" +
        "  --beta X            difference alignment weight (default 5)\n" +
        "  --gamma X           velocity regularization's damping of the orthogonal part (default 0.1)\n" +
        "  --lr X              Adam learning rate on the latent (default 0.003)\n" +
        "  --iterations N      Adam iterations per guided step (default 3)\n" +
        "  --guided-steps N    guide the first N steps, or a fraction like 0.2 of the run (default 0.2, the first 10 of 50)\n" +
        "  --no-difference-alignment     ablation: latent alignment only\n" +
        "  --no-velocity-regularization  ablation: raw velocity in the target prediction\n" +
        "  --baseline NAME     none (FlowMotion, default), noised-source (start from the source noised to --strength,\n" +
        "                      no guidance) or plain (generation from the prompt alone)\n" +
        "  --strength X        noised-source: fraction of the steps sampled, the rest skipped (default 0.7)\n" +
        "  --save-source PATH  also write the prepared source video (the model's frames and size) to PATH\n" +
        "  --out PATH          video.gif, video.mp4 (needs ffmpeg), video.y4m or a folder/ of PNG frames (default transfer.gif)\n" +
        SamplingArgs.Usage + "\n" +
        "Warnings and progress go to stderr; a summary (time, peak memory) to stdout. The metadata (OUT.json or\n" +
        "flowguide.json) records the source, how it was prepared, the method and its settings. The paper uses --cfg 6.\n" +
        "The defaults are the paper's, for Wan2.1. On the shipped flowguide-small they barely move the latent; use\n" +
        "--mode clean-latent --lr 0.3, chosen on held-out clips (docs/eval-results.md). That transfers motion at the cost\n" +
        "of some prompt adherence.";

    public override IReadOnlySet<string> Flags => new HashSet<string> { "no-difference-alignment", "no-velocity-regularization" };

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var sourcePath = args.String("source") ?? throw new UsageException("--source is required");
        var prompt = args.String("prompt") ?? throw new UsageException("--prompt is required");
        var outPath = args.String("out", "transfer.gif");
        var savePath = args.String("save-source");
        var prep = ReadPreparation(args);
        var method = TransferArgs.Read(args);
        var sampling = SamplingArgs.Read(args);
        args.EnsureAllUsed(0);

        // 1. outputs, then the source, then the model: cheapest checks first
        var target = GenerateCommand.CheckOutput(outPath);
        var saveTarget = savePath is null ? null : GenerateCommand.CheckOutput(savePath);
        var clock = Stopwatch.StartNew();
        var source = SourceVideo.Read(sourcePath);
        BufferPool.ResetPeak();
        var (model, options) = sampling.Load(prompt);
        double loadSeconds = clock.Elapsed.TotalSeconds;

        // 2. the source at the model's frames and size, encoded
        var (video, indices, warnings) = SourceVideo.Conform(source, sourcePath, options.Frames, options.Height, options.Width, prep);
        foreach (var w in warnings) Console.Error.WriteLine($"flowguide transfer: warning: {w}");
        var latent = SourceVideo.Encode(model.Vae, video);
        Tensor empty;
        using (GradMode.NoGrad()) empty = model.TextEncoder.Encode("");
        var (hooks, methodMeta) = method.Build(latent, empty, options);

        // 3. sample with a progress bar on stderr
        var bar = new ProgressBar(Console.Error, Console.IsErrorRedirected);
        var result = model.Pipeline.Generate(prompt, options, hooks, progress: new GenerateCommand.SyncProgress<StepProgress>(bar.Report), cancellationToken: cancel);
        bar.Finish();
        double sampleSeconds = clock.Elapsed.TotalSeconds - loadSeconds;
        cancel.ThrowIfCancellationRequested();

        // 4. write the video and its metadata (and the prepared source)
        var fps = model.Defaults.Fps;
        var sourceMeta = new JsonObject
        {
            ["path"] = Path.GetFullPath(sourcePath),
            ["frames"] = source.FrameCount,
            ["width"] = source.Width,
            ["height"] = source.Height,
            ["fps"] = source.Fps,
            ["frame_sampling"] = prep.Sampling == FrameSampling.First ? "first" : "uniform",
            ["fit"] = FitName(prep.Fit),
            ["frame_indices"] = new JsonArray(indices.Select(i => (JsonNode)i).ToArray()),
            ["warnings"] = new JsonArray(warnings.Select(w => (JsonNode)w).ToArray()),
        };
        if (saveTarget is not null)
        {
            sourceMeta["saved_as"] = saveTarget.Display;
            GenerateCommand.WriteOutputs(saveTarget, video.Reshape(video.Shape.ToArray()[1..]), fps, Metadata(prompt, options, model, fps, sourceMeta, methodMeta, "prepared source"));
        }
        var frames = result.Video.Reshape(result.Video.Shape.ToArray()[1..]); // [3, F, H, W]
        GenerateCommand.WriteOutputs(target, frames, fps, Metadata(prompt, options, model, fps, sourceMeta, methodMeta, null));

        GenerateCommand.WriteSummary(output, target, options, $", motion from {sourcePath}",
            clock.Elapsed.TotalSeconds, loadSeconds, sampleSeconds, $"method {methodMeta["name"]}");
        return 0;
    }

    private static SourceVideoOptions ReadPreparation(Args args)
    {
        var sampling = (args.String("frame-sampling") ?? "uniform").ToLowerInvariant() switch
        {
            "uniform" => FrameSampling.Uniform,
            "first" => FrameSampling.First,
            var s => throw new UsageException($"--frame-sampling must be uniform or first, got '{s}'"),
        };
        var fit = (args.String("fit") ?? "crop").ToLowerInvariant() switch
        {
            "crop" => FitMode.Cover,
            "pad" => FitMode.Contain,
            "stretch" => FitMode.Stretch,
            var s => throw new UsageException($"--fit must be crop, pad or stretch, got '{s}'"),
        };
        return new SourceVideoOptions { Sampling = sampling, Fit = fit };
    }

    private static string FitName(FitMode fit) => fit switch { FitMode.Cover => "crop", FitMode.Contain => "pad", _ => "stretch" };

    private static string Metadata(string prompt, GenerationOptions o, ShippedModel model, double fps, JsonObject source, JsonObject method, string? role) =>
        role is null
            ? SamplingArgs.MetadataJson("flowguide transfer", prompt, o, model, fps, ("source", source), ("method", method))
            : SamplingArgs.MetadataJson("flowguide transfer", prompt, o, model, fps, ("source", source), ("method", method), ("content", role));
}
