using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>
/// Wan's VAE decodes latent frame by latent frame with causal convolutions (the cache only carries earlier frames), so a
/// latent range decodes to exactly the matching frames of the full video once the frames before it have filled the
/// cache; see <see cref="VideoFrameDecoding"/>.
/// </summary>
public sealed partial class WanVae : ICausalVideoDecoder
{
    /// <inheritdoc/>
    public Tensor DecodeLatentRange(Tensor latent, int start, int count, bool historyGradient) => DecodeLatentRange(latent, start, count, historyGradient, clamp: true);

    /// <summary>
    /// <see cref="DecodeLatentRange(Tensor, int, int, bool)"/>, clamped to [-1, 1] like <see cref="Decode"/> unless
    /// <paramref name="clamp"/> is false.
    /// </summary>
    public Tensor DecodeLatentRange(Tensor latent, int start, int count, bool historyGradient, bool clamp)
    {
        CheckLatent(latent);
        int frames = latent.Size(2);
        if (start < 0 || count < 1 || start + count > frames)
            throw new ArgumentOutOfRangeException(nameof(count), $"WanVae.DecodeLatentRange: latent frames [{start}, {start + count}) are not inside the latent's {frames}.");
        if (historyGradient)
            return Ops.Concat(DecodeChunks(Ops.Narrow(latent, 2, 0, start + count), clamp).Skip(start).ToList(), 2);

        // 1. the history: latent frames before the range, without a tape, one scope per chunk keeping only the cache's
        //    own copies of the frames it carries (so no chunk activation outlives its chunk)
        var cache = new WanVaeCache(ownsTensors: true);
        if (start > 0)
        {
            using var noGrad = GradMode.NoGrad();
            var zHistory = PostQuantConv.Forward(Denormalize(Ops.Narrow(latent, 2, 0, start).Detach()));   // [B, z, start, H', W']
            for (int i = 0; i < start; i++)
            {
                using var scope = new TensorScope();
                cache.BeginChunk();
                Decoder.Forward(zHistory.Narrow(2, i, 1), cache);
                scope.Keep(cache.Tensors.ToArray());
            }
        }
        // 2. the range, recorded when gradients are on (the cache now holds graph tensors, so it must not copy or dispose);
        //    the 1x1x1 post-quant conv is per frame, so it runs on the range alone
        cache.OwnsTensors = false;
        var z = PostQuantConv.Forward(Denormalize(Ops.Narrow(latent, 2, start, count)));                    // [B, z, count, H', W']
        var pieces = new List<Tensor>(count);
        for (int i = 0; i < count; i++)
        {
            cache.BeginChunk();
            var piece = Decoder.Forward(z.Narrow(2, i, 1), cache);
            pieces.Add(clamp ? piece.Clamp(-1f, 1f) : piece);
        }
        return Ops.Concat(pieces, 2);
    }
}
