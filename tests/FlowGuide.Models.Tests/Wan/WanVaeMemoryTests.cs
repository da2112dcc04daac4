using FlowGuide.Models.Wan;
using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Models.Tests.Wan;

[CollectionDefinition("WanVaeMemory", DisableParallelization = true)]
public sealed class WanVaeMemoryCollection;

/// <summary>Peak live tensor memory of chunked versus whole-sequence decoding (global pool counters, so run alone).</summary>
[Collection("WanVaeMemory")]
public sealed class WanVaeMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void ChunkedDecodePeakIsBoundedByAChunk()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(3));
        vae.Freeze();
        var latent = Tensor.Randn(new Rng(4), 1, 4, 13, 12, 12); // -> video [1, 3, 25, 48, 48]
        using var _ = GradMode.NoGrad();

        long Peak(int latentFrames, bool chunked)
        {
            var z = latent.Narrow(2, 0, latentFrames);
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            long before = BufferPool.LiveBytes;
            BufferPool.ResetPeak();
            var video = vae.Decode(z, chunked: chunked);
            Assert.Equal(1 + 2 * (latentFrames - 1), video.Size(2));
            return BufferPool.PeakLiveBytes - before;
        }

        long whole = Peak(13, false), chunked = Peak(13, true), chunkedShort = Peak(3, true);
        long outputBytes = 4L * 3 * 25 * 48 * 48;
        output.WriteLine($"decode peak above baseline, 25 frames 48x48: whole {whole >> 10} KiB, chunked {chunked >> 10} KiB; " +
            $"chunked 5 frames {chunkedShort >> 10} KiB (25-frame output {outputBytes >> 10} KiB)");
        Assert.True(chunked < whole / 2, $"chunked decode peak {chunked} B is not well below the whole-sequence peak {whole} B");
        // Chunked peak does not grow with the clip beyond the output it accumulates.
        Assert.True(chunked < chunkedShort * 1.25 + 2 * outputBytes, $"chunked peak grew from {chunkedShort} B (5 frames) to {chunked} B (25 frames)");
    }
}
