using System.Diagnostics;
using FlowGuide.Guidance;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>
/// End-to-end generation on a model folder (default: the shipped models/flowguide-small), with the model's defaults
/// (MotionPrompt too when models/motionprompt-discriminator sits beside the model folder):
/// text encoding, sampling, decoding — what `flowguide generate` does minus writing the file. Plain generation and each
/// guidance method run in one process on the same prompt and seed, so their ratios are side by side. Peak memory is the
/// pool's peak live tensor bytes above what was live before the run (weights included in neither).
/// </summary>
public static class PipelineCases
{
    public const string DefaultPrompt = "a red circle moves right across a striped background";

    public static string FindModel(string? path)
    {
        if (path is not null) return path;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "models", "flowguide-small");
            if (File.Exists(Path.Combine(candidate, ShippedModel.IndexFileName))) return candidate;
        }
        throw new DirectoryNotFoundException("no models/flowguide-small found above the benchmark binary; pass --model DIR.");
    }

    public static IEnumerable<BenchResult> Generate(string? modelPath, bool quick)
    {
        var model = ShippedModel.Load(FindModel(modelPath));
        var options = model.Defaults.ToOptions(seed: 0);
        int runs = quick ? 1 : 3;
        var source = Tensor.Randn(new Rng(5), model.Pipeline.LatentShape(options)).MulScalar(0.5f);   // a stand-in source latent
        var methods = new (string Name, Func<IReadOnlyList<IGuidanceHook>> Hooks)[]
        {
            ("plain", () => Array.Empty<IGuidanceHook>()),
            ("flowmo", () => new IGuidanceHook[] { new FlowMoHook() }),
            ("flowmotion", () => new IGuidanceHook[] { FlowMotionHook.Create(null, source) }),
        }.ToList();
        // MotionPrompt needs the shipped discriminator beside the model folder (models/motionprompt-discriminator)
        var discDir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(FindModel(modelPath)).TrimEnd(Path.DirectorySeparatorChar))!, "motionprompt-discriminator");
        if (Directory.Exists(discDir))
        {
            var disc = FlowGuide.Models.Flow.FlowDiscriminator.Load(discDir);
            methods.Add(("motionprompt", () => new IGuidanceHook[] { new MotionPromptHook(disc) }));
        }
        double plainMs = double.NaN;
        long plainPeak = 0;
        foreach (var (name, hooks) in methods)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            BufferPool.ResetPeak();
            long start = BufferPool.LiveBytes;
            var r = Harness.Measure($"generate {options.Frames}x{options.Height}x{options.Width} {options.Steps} steps ({model.Defaults.Sampler}) {name}", "flowguide", () =>
            {
                using var scope = new TensorScope();
                model.Pipeline.Generate(DefaultPrompt, options, hooks());
            }, warmup: 1, minRuns: runs, minSeconds: 0);
            long peak = BufferPool.PeakLiveBytes - start;
            if (name == "plain") { plainMs = r.MedianMs; plainPeak = peak; }
            string ratio = name == "plain" ? "" : $"; {r.MedianMs / plainMs:F2}x plain time, {(double)peak / plainPeak:F2}x plain peak";
            yield return r with { PeakBytes = peak, Note = $"(peak live tensor bytes above weights{ratio}; process working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB)" };
        }
    }
}
