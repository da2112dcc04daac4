using System.Diagnostics;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>Whole-model cases; each mirrors one in bench/reference/torch_bench.py (same shapes, what is timed).</summary>
public static class WanCases
{
    /// <summary>
    /// One no-grad forward of the Wan2.1 1.3B transformer (random weights, 5.7 GB of float32) on a 1x16x5x32x32 latent
    /// (1,280 tokens) with 512 text tokens. Reports the median of a few runs after one warm-up, the pool's peak live
    /// bytes above the weights and inputs, and the process's peak working set.
    /// </summary>
    public static IEnumerable<BenchResult> Wan13B(bool quick)
    {
        var sw = Stopwatch.StartNew();
        var config = WanTransformerConfig.Wan21_1_3B;
        var model = new WanTransformer3D(config, new Rng(0));
        model.Freeze();
        double initS = sw.Elapsed.TotalSeconds;
        var rng = new Rng(1);
        var latent = Tensor.Randn(rng, 1, 16, 5, 32, 32);
        var t = Tensor.FromArray(new[] { 500f }, 1);
        var text = Tensor.Randn(rng, 1, 512, config.TextDim);
        // A forward is ~3.6 TFLOP: 12 per block x 30 (q/k/v/out, attention, cross-attention, FFN) at 1,280 tokens.
        double flops = ForwardFlops(config, 1280, 512);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        BufferPool.ResetPeak();
        long start = BufferPool.LiveBytes;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var r = Harness.Measure("wan2.1-1.3B fwd 1x16x5x32x32 text512", "flowguide", () =>
        {
            using var _ = GradMode.NoGrad();
            model.Forward(latent, t, text).Dispose();
        }, flops, warmup: 1, minRuns: quick ? 1 : 3, minSeconds: 0);
        long peak = BufferPool.PeakLiveBytes - start;
        // CPU seconds per forward (warm-up included in the count): less sensitive than wall time to a shared machine.
        double cpuPerRun = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds / (r.Runs + 1);
        long ws = Process.GetCurrentProcess().PeakWorkingSet64;
        yield return r with
        {
            PeakBytes = peak,
            Note = $"(cpu {cpuPerRun:F1} s/forward; peak live tensor bytes above weights+inputs; process peak working set {ws / 1048576.0:F0} MiB; weights {model.ParameterCount * 4 / 1048576.0:F0} MiB built in {initS:F1} s)",
        };
    }

    /// <summary>
    /// One sampling step of the small shipped configuration (<see cref="WanTransformerConfig.Small"/>): a 17-frame 64x64
    /// video's latent [1, 16, 5, 16, 16] (320 tokens), 32 text tokens, CFG as one batch of two (conditional and
    /// unconditional), the guidance combination and an Euler update.
    /// </summary>
    public static IEnumerable<BenchResult> SmallStep()
    {
        var config = WanTransformerConfig.Small;
        var model = new WanTransformer3D(config, new Rng(0));
        model.Freeze();
        var rng = new Rng(1);
        var latent = Tensor.Randn(rng, 1, 16, 5, 16, 16);
        var context = Tensor.Randn(rng, 2, 32, config.TextDim); // [cond; uncond]
        var t = Tensor.FromArray(new[] { 500f, 500f }, 2);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        BufferPool.ResetPeak();
        long start = BufferPool.LiveBytes;
        var r = Harness.Measure("small step CFG 1x16x5x16x16 text32", "flowguide", () =>
        {
            using var noGrad = GradMode.NoGrad();
            using var scope = new TensorScope();
            var v = model.Forward(Ops.Concat(new[] { latent, latent }, 0), t, context); // [2, 16, 5, 16, 16]
            var vc = Ops.Narrow(v, 0, 0, 1);
            var vu = Ops.Narrow(v, 0, 1, 1);
            var guided = vu + (vc - vu) * 5f;
            _ = latent + guided * -0.02f;
        });
        yield return r with { PeakBytes = BufferPool.PeakLiveBytes - start, Note = "(peak live tensor bytes above weights and inputs)" };
    }

    /// <summary>Multiply-add FLOPs (x2) of the GEMMs and attention products of one forward.</summary>
    internal static double ForwardFlops(WanTransformerConfig c, int tokens, int textTokens)
    {
        double d = c.Width, l = tokens, lt = textTokens;
        double block = 2 * (4 * l * d * d          // self-attention q, k, v, out
                            + 2 * l * l * d        // scores and weighted sum
                            + 2 * l * d * d        // cross-attention q, out
                            + 2 * lt * d * d       // cross-attention k, v
                            + 2 * l * lt * d       // cross scores and sum
                            + 2 * l * d * c.FfnDim); // FFN
        double rest = 2 * (lt * c.TextDim * d + lt * d * d + l * d * c.InChannels * c.PatchVolume + l * d * c.OutProjDim);
        return c.NumLayers * block + rest;
    }
}
