using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Wan;

/// <summary>Decoding only the frames a caller needs gives exactly the frames (and gradients) of decoding everything.</summary>
// Serial: the memory test reads the process-wide pool peak, which tests running beside it would inflate.
[Collection("Wan serial memory")]
public class VideoFrameDecodingTests
{
    /// <summary>Counts the latent frames each Decode call receives.</summary>
    private sealed class Spy(IVideoDecoder inner) : IVideoDecoder
    {
        public List<int> Decoded { get; } = new();
        public int LatentChannels => inner.LatentChannels;
        public int TemporalFactor => inner.TemporalFactor;
        public int SpatialFactor => inner.SpatialFactor;
        public Tensor Decode(Tensor latent) { Decoded.Add(latent.Size(2)); return inner.Decode(latent); }
    }

    /// <summary>Records the latent range each call decodes.</summary>
    private sealed class CausalSpy(WanVae inner) : ICausalVideoDecoder
    {
        public List<(int Start, int Count, bool History)> Ranges { get; } = new();
        public int LatentChannels => ((IVideoDecoder)inner).LatentChannels;
        public int TemporalFactor => ((IVideoDecoder)inner).TemporalFactor;
        public int SpatialFactor => ((IVideoDecoder)inner).SpatialFactor;
        public Tensor Decode(Tensor latent) => throw new InvalidOperationException("a causal decoder should only be asked for a range");
        public Tensor DecodeLatentRange(Tensor latent, int start, int count, bool historyGradient)
        {
            Ranges.Add((start, count, historyGradient));
            return inner.DecodeLatentRange(latent, start, count, historyGradient);
        }
    }

    [Theory]
    [InlineData(new[] { 0, 1 }, 0, 2, true)]          // frames 0, 1 of 9 (temporal factor 2): latent frames 0..1
    [InlineData(new[] { 1, 2 }, 1, 1, false)]         // frames 1, 2 are both latent frame 1's
    [InlineData(new[] { 5, 6 }, 3, 1, true)]          // one latent frame, after a history of 3
    [InlineData(new[] { 4, 5, 0, 1 }, 0, 4, false)]   // two pairs, out of order: latent frames 0..3
    [InlineData(new[] { 7, 8 }, 4, 1, false)]         // the last pair: only the last latent frame is in the range
    [InlineData(new[] { 6, 7 }, 3, 2, false)]         // a pair across two latent frames
    public void PartialDecodeEqualsTheSameFramesOfTheFullDecode(int[] frames, int start, int count, bool history)
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(2)); // 2x temporal, 4x spatial
        vae.Freeze();
        var latent = Tensor.Randn(new Rng(3), 1, 4, 5, 3, 4); // 9 frames of 12x16
        Tensor full;
        using (GradMode.NoGrad()) full = vae.Decode(latent);
        var spy = new CausalSpy(vae);
        Tensor part;
        using (GradMode.NoGrad()) part = VideoFrameDecoding.DecodeFrames(spy, latent, frames, history);
        Assert.Equal(new[] { (start, count, history) }, spy.Ranges);
        Assert.Equal(start + count, VideoFrameDecoding.LatentPrefixFor(frames, 2));
        Assert.Equal(new[] { 1, 3, frames.Length, 12, 16 }, part.Shape.ToArray());
        for (int k = 0; k < frames.Length; k++)
            Assert.Equal(Ops.Narrow(full, 2, frames[k], 1).ToArray(), Ops.Narrow(part, 2, k, 1).ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GradientsOfThePartialDecodeAgainstThoseOfTheFullDecode(bool historyGradient)
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(4));
        vae.Freeze();
        var latent = Tensor.Randn(new Rng(5), 1, 4, 5, 2, 2); // 9 frames of 8x8
        int[] frames = { 5, 6 };                               // latent frames 3 (5, 6 are its two frames); history 0..2
        var w = Tensor.Randn(new Rng(6), 1, 3, 2, 8, 8);
        Tensor Grad(Func<Tensor, Tensor> frameOf)
        {
            var z = latent.DetachedLeaf();
            using var _ = GradMode.EnableGrad();
            return Autograd.Grad(Ops.Sum(Ops.Mul(frameOf(z), w)), new[] { z })[0];
        }
        var viaPart = Grad(z => VideoFrameDecoding.DecodeFrames(vae, z, frames, historyGradient));
        var viaFull = Grad(z => Ops.IndexSelect(vae.Decode(z), 2, frames));
        float[] Frame(Tensor g, int f) => Ops.Narrow(g, 2, f, 1).ToArray();
        // the range's own latent frame: the same gradient either way; the last latent frame: none either way
        var a = Frame(viaPart, 3);
        var b = Frame(viaFull, 3);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 5);
        Assert.All(Frame(viaPart, 4), x => Assert.Equal(0f, x));
        // the history: exact with historyGradient, none without it (the full decode does give it some)
        Assert.Contains(Frame(viaFull, 1), x => x != 0f);
        for (int f = 0; f < 3; f++)
        {
            var h = Frame(viaPart, f);
            if (historyGradient) { var e = Frame(viaFull, f); for (int i = 0; i < h.Length; i++) Assert.Equal(e[i], h[i], 5); }
            else Assert.All(h, x => Assert.Equal(0f, x));
        }
    }

    [Fact]
    public void UntapedHistoryHoldsLessMemoryThanATapedOne()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(7));
        vae.Freeze();
        var latent = Tensor.Randn(new Rng(8), 1, 4, 9, 8, 8); // 17 frames of 32x32; the last pair needs latent frame 8
        long Peak(bool history)
        {
            GC.Collect();
            using var scope = new TensorScope();
            BufferPool.ResetPeak();
            var z = latent.DetachedLeaf();
            using var _ = GradMode.EnableGrad();
            Autograd.Grad(Ops.Sum(VideoFrameDecoding.DecodeFrames(vae, z, new[] { 15, 16 }, history)), new[] { z });
            return BufferPool.PeakLiveBytes;
        }
        long taped = Peak(true), untaped = Peak(false);
        Assert.True(untaped * 3 < taped, $"peak with the history taped {taped} B, untaped {untaped} B");
    }

    [Fact]
    public void NonCausalDecodersDecodeEverythingAndBadFramesThrow()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(2));
        var spy = new Spy(vae);
        var latent = Tensor.Randn(new Rng(3), 1, 4, 3, 2, 2); // 5 frames
        using var _ = GradMode.NoGrad();
        var part = VideoFrameDecoding.DecodeFrames(spy, latent, new[] { 1, 2 });
        Assert.Equal(new[] { 3 }, spy.Decoded);
        Assert.Equal(Ops.Narrow(vae.Decode(latent), 2, 1, 2).ToArray(), part.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => VideoFrameDecoding.DecodeFrames(vae, latent, new[] { 5 }));
        Assert.Throws<ArgumentException>(() => VideoFrameDecoding.DecodeFrames(vae, latent, Array.Empty<int>()));
        Assert.Equal(0, VideoFrameDecoding.LatentFrameOf(0, 4));
        Assert.Equal(1, VideoFrameDecoding.LatentFrameOf(4, 4));
        Assert.Equal(2, VideoFrameDecoding.LatentFrameOf(5, 4));
    }
}
