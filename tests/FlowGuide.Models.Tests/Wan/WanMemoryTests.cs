using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Models.Tests.Wan;

[CollectionDefinition("Wan serial memory", DisableParallelization = true)]
public sealed class WanSerialMemoryCollection { }

/// <summary>
/// A no-grad forward holds about one block's activations whatever the depth, and a checkpointed backward holds one
/// block's activations plus each block's input. Measured with the pool's live-byte peak, so this class runs alone.
/// </summary>
[Collection("Wan serial memory")]
public class WanMemoryTests(ITestOutputHelper log)
{
    private static readonly WanTransformerConfig Config = WanTransformerConfig.Tiny with { NumHeads = 4, HeadDim = 16, FfnDim = 256 };

    private static (Tensor Latent, Tensor T, Tensor Text) Inputs()
    {
        var rng = new Rng(4);
        return (Tensor.Randn(rng, 1, 4, 4, 16, 16), Tensor.FromArray(new[] { 500f }, 1), Tensor.Randn(rng, 1, 8, 16)); // 256 tokens
    }

    private static long PeakAbove(Action run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        BufferPool.ResetPeak();
        long start = BufferPool.LiveBytes;
        run();
        return BufferPool.PeakLiveBytes - start;
    }

    [Fact]
    public void NoGradForwardPeakDoesNotGrowWithDepth()
    {
        var (latent, t, text) = Inputs();
        long Peak(int layers)
        {
            var model = new WanTransformer3D(Config with { NumLayers = layers }, new Rng(1));
            using var _ = GradMode.NoGrad();
            model.Forward(latent, t, text).Dispose(); // warm the pool and the JIT
            return PeakAbove(() => model.Forward(latent, t, text).Dispose());
        }
        long p2 = Peak(2), p12 = Peak(12);
        log.WriteLine($"no-grad forward peak above weights: 2 layers {p2 / 1024} KiB, 12 layers {p12 / 1024} KiB");
        long activation = 256L * Config.Width * 4; // one [1, 256, D] tensor
        Assert.True(p12 <= p2 + activation, $"peak grew with depth: {p2} B for 2 layers, {p12} B for 12 layers");
    }

    [Fact]
    public void CheckpointedGraphHoldsOnlyBlockInputs()
    {
        // What a recorded forward keeps alive for the backward (measured after a full GC while the output is held):
        // every block's activations without checkpointing, only each block's input with it.
        var (latent, t, text) = Inputs();
        var model = new WanTransformer3D(Config with { NumLayers = 8 }, new Rng(1));
        model.Freeze();
        long Held(bool checkpoint)
        {
            model.GradientCheckpointing = checkpoint;
            var x = latent.Clone();
            x.RequiresGrad = true;
            Collect();
            long start = BufferPool.LiveBytes;
            var v = model.Forward(x, t, text);
            Collect();
            long held = BufferPool.LiveBytes - start;
            var g = Autograd.Grad(Ops.Sum(v), new[] { x })[0];
            Assert.Contains(g.ToArray(), e => e != 0);
            return held;
        }
        long plain = Held(false), ckpt = Held(true);
        log.WriteLine($"held by the graph after forward: plain {plain / 1024} KiB, checkpointed {ckpt / 1024} KiB");
        Assert.True(ckpt * 10 < plain, $"checkpointing should hold far less: plain {plain} B, checkpointed {ckpt} B");
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
