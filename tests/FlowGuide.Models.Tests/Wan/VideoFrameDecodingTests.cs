using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Wan;

/// <summary>Decoding only the frames a caller needs gives exactly the frames (and gradients) of decoding everything.</summary>
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

    private sealed class CausalSpy(IVideoDecoder inner) : ICausalVideoDecoder
    {
        public List<int> Decoded { get; } = new();
        public int LatentChannels => inner.LatentChannels;
        public int TemporalFactor => inner.TemporalFactor;
        public int SpatialFactor => inner.SpatialFactor;
        public Tensor Decode(Tensor latent) { Decoded.Add(latent.Size(2)); return inner.Decode(latent); }
    }

    [Theory]
    [InlineData(new[] { 1, 2 }, 2)]          // frames 1, 2 of 9 (temporal factor 2): latent frames 0..1
    [InlineData(new[] { 0, 1 }, 2)]
    [InlineData(new[] { 4, 5, 0, 1 }, 4)]    // two pairs, out of order: up to latent frame 3
    [InlineData(new[] { 7, 8 }, 5)]          // the last pair needs everything
    public void PartialDecodeEqualsTheSameFramesOfTheFullDecode(int[] frames, int expectedPrefix)
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(2)); // 2x temporal, 4x spatial
        vae.Freeze();
        var latent = Tensor.Randn(new Rng(3), 1, 4, 5, 3, 4); // 9 frames of 12x16
        Tensor full;
        using (GradMode.NoGrad()) full = vae.Decode(latent);
        var spy = new CausalSpy(vae);
        Tensor part;
        using (GradMode.NoGrad()) part = VideoFrameDecoding.DecodeFrames(spy, latent, frames);
        Assert.Equal(new[] { expectedPrefix }, spy.Decoded);
        Assert.Equal(expectedPrefix, VideoFrameDecoding.LatentPrefixFor(frames, 2));
        Assert.Equal(new[] { 1, 3, frames.Length, 12, 16 }, part.Shape.ToArray());
        for (int k = 0; k < frames.Length; k++)
            Assert.Equal(Ops.Narrow(full, 2, frames[k], 1).ToArray(), Ops.Narrow(part, 2, k, 1).ToArray());
        Assert.True(vae is ICausalVideoDecoder);
    }

    [Fact]
    public void GradientsOfThePartialDecodeEqualThoseOfTheFullDecode()
    {
        var vae = new WanVae(WanVaeConfig.Tiny, new Rng(4));
        vae.Freeze();
        var latent = Tensor.Randn(new Rng(5), 1, 4, 4, 2, 2);
        int[] frames = { 3, 4 };
        var w = Tensor.Randn(new Rng(6), 1, 3, 2, 8, 8);
        Tensor Grad(Func<Tensor, Tensor> frameOf)
        {
            var z = latent.DetachedLeaf();
            using var _ = GradMode.EnableGrad();
            return Autograd.Grad(Ops.Sum(Ops.Mul(frameOf(z), w)), new[] { z })[0];
        }
        var viaPart = Grad(z => VideoFrameDecoding.DecodeFrames(vae, z, frames));
        var viaFull = Grad(z => Ops.IndexSelect(vae.Decode(z), 2, frames));
        var a = viaPart.ToArray();
        var b = viaFull.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 5);
        // frames 3, 4 come from latent frames 0..2: the last latent frame gets no gradient
        Assert.All(Ops.Narrow(viaPart, 2, 3, 1).ToArray(), x => Assert.Equal(0f, x));
        Assert.Contains(Ops.Narrow(viaPart, 2, 2, 1).ToArray(), x => x != 0f);
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
