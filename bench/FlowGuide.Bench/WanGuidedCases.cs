using System.Diagnostics;
using FlowGuide.Guidance;
using FlowGuide.Models;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>Guidance on the full-size configuration: what one guided step costs next to a plain one.</summary>
public static class WanGuidedCases
{
    /// <summary>
    /// One sampling step of the Wan2.1 1.3B transformer (random weights) on a 1x16x5x32x32 latent (1,280 tokens) with a
    /// 512-token text context, CFG as one batch of two: plain, then with <see cref="FlowMoHook"/> guiding that step at
    /// its defaults (one fresh Adam step, recompute after the update, per-block gradient checkpointing). Both run through
    /// <see cref="TextToVideoPipeline.Denoise"/> (a 1-step schedule), so the FlowMo figure is the hook's real path:
    /// differentiated CFG forward, backward to the latent, update, and the recomputed velocity. Reports wall time and
    /// the pool's peak live bytes above the weights and inputs for each.
    /// </summary>
    public static IEnumerable<BenchResult> Wan13BFlowMo(bool quick)
    {
        var config = WanTransformerConfig.Wan21_1_3B;
        var model = new WanTransformer3D(config, new Rng(0));
        model.Freeze();
        var pipeline = new TextToVideoPipeline(model, null, new NoDecoder(config.OutChannels));
        var rng = new Rng(1);
        var latent = Tensor.Randn(rng, 1, 16, 5, 32, 32);
        var text = Tensor.Randn(rng, 1, 512, config.TextDim);
        var negative = Tensor.Zeros(1, 512, config.TextDim);
        var options = new GenerationOptions { Steps = 1, Frames = 17, Height = 256, Width = 256 };
        var flowmo = new FlowMoOptions { Window = StepWindow.Fractions(0, 1) };
        int runs = quick ? 1 : 2;

        BenchResult Run(string name, Func<IReadOnlyList<IGuidanceHook>> hooks)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            BufferPool.ResetPeak();
            long start = BufferPool.LiveBytes;
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var r = Harness.Measure(name, "flowguide", () =>
            {
                using var scope = new TensorScope();
                pipeline.Denoise(latent, text, negative, options, new Rng(7), hooks());
            }, warmup: 0, minRuns: runs, minSeconds: 0);
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds / r.Runs;
            return r with { PeakBytes = BufferPool.PeakLiveBytes - start, Note = $"(cpu {cpu:F1} s/step; peak live tensor bytes above weights+inputs)" };
        }

        var plain = Run("wan2.1-1.3B step CFG 1x16x5x32x32 text512 plain", Array.Empty<IGuidanceHook>);
        yield return plain;
        var guided = Run("wan2.1-1.3B step CFG 1x16x5x32x32 text512 flowmo", () => new IGuidanceHook[] { new FlowMoHook(flowmo) });
        yield return guided with
        {
            Note = guided.Note + $" {guided.MedianMs / plain.MedianMs:F2}x plain time, {(double)guided.PeakBytes! / Math.Max(1, plain.PeakBytes ?? 1):F2}x plain peak",
        };
    }

    /// <summary>The 1-step runs never decode; a decoder is only needed to build the pipeline.</summary>
    private sealed class NoDecoder : IVideoDecoder
    {
        public NoDecoder(int channels) => LatentChannels = channels;
        public int LatentChannels { get; }
        public int TemporalFactor => 4;
        public int SpatialFactor => 8;
        public Tensor Decode(Tensor latent) => throw new NotSupportedException("the guided-step benchmark does not decode");
    }
}
