using FlowGuide.Tensors;

namespace FlowGuide.Sampling.Tests;

[CollectionDefinition("BufferPool", DisableParallelization = true)]
public class BufferPoolCollection { }

/// <summary>Reads the process-wide buffer counters, so it runs alone.</summary>
[Collection("BufferPool")]
public class MemoryTests
{
    private static long PeakOverRun(int steps, SamplerKind sampler)
    {
        var (p, _) = Fakes.Pipeline();
        var enc = Fakes.Encoder();
        var cond = enc.Encode("a cat");
        var unc = enc.Encode("");
        var z0 = Tensor.Randn(new Rng(1), 1, 4, 5, 32, 32); // 80 KB per latent
        var opts = Fakes.Small(steps: steps, sampler: sampler);
        p.Denoise(z0, cond, unc, opts, new Rng(2)); // warm the pool
        long before = BufferPool.LiveBytes;
        BufferPool.ResetPeak();
        var z = p.Denoise(z0, cond, unc, opts, new Rng(2));
        long peak = BufferPool.PeakLiveBytes - before;
        long after = BufferPool.LiveBytes - before;
        z.Dispose();
        Assert.True(after <= 4 * 81920 + 65536, $"{after} bytes still live after a {steps}-step run");
        return peak;
    }

    [Theory]
    [InlineData(SamplerKind.Euler)]
    [InlineData(SamplerKind.UniPc)]
    public void MemoryStaysFlatOverSteps(SamplerKind sampler)
    {
        long few = PeakOverRun(4, sampler);
        long many = PeakOverRun(24, sampler);
        // a leak of one 80 KB latent per step would add 1.6 MB over the 20 extra steps
        Assert.True(many <= few + 81920, $"peak {many} bytes over 24 steps vs {few} over 4");
    }
}
