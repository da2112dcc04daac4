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
/// pool's peak live tensor bytes above what was live before the run (weights included in neither). Besides wall time,
/// each run's process CPU time is taken (the minimum over the runs is reported): on a machine shared with other jobs
/// the CPU-time ratio is the steadier measure of the work a method adds.
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

    /// <param name="modelPath">Model folder (null: find models/flowguide-small).</param>
    /// <param name="quick">One timed run instead of three.</param>
    /// <param name="only">Method names to run (null: plain, flowmo, flowmotion, flowmotion-v2, motion-guidance, motion-guidance-c1, motionprompt); "plain" always runs first.
    /// MotionPrompt variants: motionprompt-w3 (the earlier default window, steps 3..14 of 50), motionprompt-ckptF (F = 0, 0.33, 0.5, 0.67, 1: the fraction of transformer blocks checkpointed),
    /// with a -noreuse suffix the loop makes its own CFG call after the hook (motionprompt-ckpt1-noreuse: the settings
    /// before issue 10's tuning, but for the two-stage backward).</param>
    /// <param name="runs">Timed runs per method (null: 3, or 1 when quick).</param>
    /// <param name="interleave">Run the methods round-robin (one warm-up round, then <paramref name="runs"/> rounds) so that
    /// a changing background load affects each alike; minima of wall and CPU time per method.</param>
    /// <param name="seed">The generation seed (0 unless given).</param>
    public static IEnumerable<BenchResult> Generate(string? modelPath, bool quick, IReadOnlyCollection<string>? only = null, int? runs = null, bool interleave = false, ulong seed = 0)
    {
        var model = ShippedModel.Load(FindModel(modelPath));
        var options = model.Defaults.ToOptions(seed);
        int timedRuns = runs ?? (quick ? 1 : 3);
        var source = Tensor.Randn(new Rng(5), model.Pipeline.LatentShape(options)).MulScalar(0.5f);   // a stand-in source latent
        var methods = new List<(string Name, Func<IReadOnlyList<IGuidanceHook>> Hooks)>
        {
            ("plain", () => Array.Empty<IGuidanceHook>()),
            ("flowmo", () => new IGuidanceHook[] { new FlowMoHook() }),
            ("flowmotion", () => new IGuidanceHook[] { FlowMotionHook.Create(null, source) }),
            // the setting docs/eval-results.md chose for flowguide-small v2 on its dev set (clean latent, lr 0.3, first 20%)
            ("flowmotion-v2", () => new IGuidanceHook[] { FlowMotionHook.Create(new FlowMotionOptions { Mode = FlowMotionMode.CleanLatent, LearningRate = 0.3 }, source) }),
        };
        // motion guidance, as generate runs it by default (strength and noise-search width from model_index.json), when the
        // model folder ships a motion classifier; the bench prompt asks a red shape to move right, so that is the target
        var classifierDir = Path.Combine(model.Directory, "motion_classifier");
        if (Directory.Exists(classifierDir))
        {
            var classifier = FlowGuide.Models.Video.LatentMotionClassifier.Load(classifierDir);
            var mg = new MotionGuidanceOptions
            {
                Scale = model.Defaults.MotionGuidanceScale > 0 ? model.Defaults.MotionGuidanceScale : 100,
                Candidates = model.Defaults.MotionCandidates,
            };
            var target = new MotionTarget("moves right", classifier.Config.Conditional ? "red" : null);
            methods.Add(("motion-guidance", () => new IGuidanceHook[] { new MotionClassifierHook(classifier, mg, _ => target) }));
            // the same without the noise search (guidance alone), to show what the search costs
            if (mg.Candidates > 1)
                methods.Add(("motion-guidance-c1", () => new IGuidanceHook[] { new MotionClassifierHook(classifier, mg with { Candidates = 1 }, _ => target) }));
        }
        // MotionPrompt needs the shipped discriminator beside the model folder (models/motionprompt-discriminator)
        var discDir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(FindModel(modelPath)).TrimEnd(Path.DirectorySeparatorChar))!, "motionprompt-discriminator");
        if (Directory.Exists(discDir))
        {
            var disc = FlowGuide.Models.Flow.FlowDiscriminator.Load(discDir);
            var mp = new MotionPromptOptions();
            methods.Add(("motionprompt", () => new IGuidanceHook[] { new MotionPromptHook(disc, mp) }));
            methods.Add(("motionprompt-timed", () => new IGuidanceHook[] { new TimedHook(new MotionPromptHook(disc, mp)) }));
            // the window FlowGuide used before reading the paper's "3 < t < 15" as strict: steps 3..14 of 50 (5 of 20 guided)
            var window12 = mp with { Window = StepWindow.Fractions(3.0 / 50, 15.0 / 50) };
            methods.Add(("motionprompt-w3", () => new IGuidanceHook[] { new MotionPromptHook(disc, window12) }));
            // variants: motionprompt-ckptF (a fraction F of the transformer blocks checkpointed), -noreuse (the loop's own CFG call)
            foreach (var ckpt in new[] { "0", "0.33", "0.5", "0.67", "1" })
                foreach (bool reuse in new[] { true, false })
                {
                    var v = mp with { CheckpointFraction = double.Parse(ckpt, System.Globalization.CultureInfo.InvariantCulture), ReuseVelocity = reuse };
                    methods.Add(($"motionprompt-ckpt{ckpt}{(reuse ? "" : "-noreuse")}", () => new IGuidanceHook[] { new MotionPromptHook(disc, v) }));
                }
        }
        var selected = methods.Where(m => m.Name == "plain" || (only is null ? !m.Name.StartsWith("motionprompt-", StringComparison.Ordinal) : only.Contains(m.Name))).ToList();
        if (only is not null)
            foreach (var name in only)
                if (!methods.Any(m => m.Name == name))
                    throw new ArgumentException($"generate: unknown method '{name}' (expected one of {string.Join(", ", methods.Select(m => m.Name))}).");
        if (interleave)
        {
            foreach (var r in Interleaved(model, options, selected, timedRuns)) yield return r;
            yield break;
        }
        double plainMs = double.NaN, plainCpu = double.NaN;
        long plainPeak = 0;
        foreach (var (name, hooks) in selected)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            BufferPool.ResetPeak();
            long start = BufferPool.LiveBytes;
            double minCpu = double.PositiveInfinity;
            int call = 0;
            var r = Harness.Measure($"generate {options.Frames}x{options.Height}x{options.Width} {options.Steps} steps ({model.Defaults.Sampler}) {name}", "flowguide", () =>
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                using (var scope = new TensorScope())
                    model.Pipeline.Generate(DefaultPrompt, options, hooks());
                if (call++ > 0) minCpu = Math.Min(minCpu, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds); // not the warm-up
            }, warmup: 1, minRuns: timedRuns, minSeconds: 0);
            long peak = BufferPool.PeakLiveBytes - start;
            if (name == "plain") { plainMs = r.MedianMs; plainPeak = peak; plainCpu = minCpu; }
            string ratio = name == "plain" ? "" : $"; {r.MedianMs / plainMs:F2}x plain time, {minCpu / plainCpu:F2}x plain CPU time, {(double)peak / plainPeak:F2}x plain peak";
            yield return r with { PeakBytes = peak, Note = $"(min CPU {minCpu:F0} ms; peak live tensor bytes above weights{ratio}; process working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB)" };
        }
    }

    private static IEnumerable<BenchResult> Interleaved(ShippedModel model, GenerationOptions options,
        List<(string Name, Func<IReadOnlyList<IGuidanceHook>> Hooks)> methods, int runs)
    {
        int n = methods.Count;
        var wall = Enumerable.Repeat(double.PositiveInfinity, n).ToArray();
        var cpu = Enumerable.Repeat(double.PositiveInfinity, n).ToArray();
        var peak = new long[n];
        var cpuRuns = Enumerable.Range(0, n).Select(_ => new List<double>()).ToArray();
        var gcPause = new double[n];
        var gen2 = new int[n];
        for (int round = 0; round <= runs; round++)
            for (int m = 0; m < n; m++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                BufferPool.ResetPeak();
                long start = BufferPool.LiveBytes;
                var c0 = Process.GetCurrentProcess().TotalProcessorTime;
                var p0 = GC.GetTotalPauseDuration();
                int g0 = GC.CollectionCount(2);
                var sw = Stopwatch.StartNew();
                var hooks = methods[m].Hooks();
                using (var scope = new TensorScope())
                    model.Pipeline.Generate(DefaultPrompt, options, hooks);
                double w = sw.Elapsed.TotalMilliseconds, c = (Process.GetCurrentProcess().TotalProcessorTime - c0).TotalMilliseconds;
                foreach (var th in hooks.OfType<TimedHook>())
                    Console.Error.WriteLine($"  {methods[m].Name}: hook {th.BeforeModelMs:F0} ms in {th.Calls} calls, rest {w - th.BeforeModelMs:F0} ms");
                if (round > 0) { gcPause[m] += (GC.GetTotalPauseDuration() - p0).TotalMilliseconds / runs; gen2[m] += GC.CollectionCount(2) - g0; }
                peak[m] = Math.Max(peak[m], BufferPool.PeakLiveBytes - start);
                if (round == 0) continue; // warm-up round
                wall[m] = Math.Min(wall[m], w);
                cpu[m] = Math.Min(cpu[m], c);
                cpuRuns[m].Add(c);
            }
        for (int m = 0; m < n; m++)
        {
            // the same round's plain run ran under about the same background load: the median of those ratios is the steadiest
            var perRound = cpuRuns[m].Zip(cpuRuns[0], (a, b) => a / b).OrderBy(x => x).ToList();
            double median = perRound.Count % 2 == 1 ? perRound[perRound.Count / 2] : (perRound[perRound.Count / 2 - 1] + perRound[perRound.Count / 2]) / 2;
            string ratio = m == 0 ? "" : $"; {wall[m] / wall[0]:F2}x plain time, CPU time {cpu[m] / cpu[0]:F2}x plain (minima), {median:F2}x (median of per-round ratios {string.Join(" ", perRound.Select(x => x.ToString("F2")))}), {(double)peak[m] / peak[0]:F2}x plain peak";
            yield return new BenchResult($"generate {options.Frames}x{options.Height}x{options.Width} {options.Steps} steps interleaved {methods[m].Name}", "flowguide",
                wall[m], wall[m], runs, null, peak[m], $"(min CPU {cpu[m]:F0} ms, min wall {wall[m]:F0} ms over {runs} rounds, GC pauses {gcPause[m]:F1} ms and {(double)gen2[m] / runs:F1} gen-2 collections a run{ratio})");
        }
    }
}
