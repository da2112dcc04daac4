using FlowGuide.Tensors;

namespace FlowGuide.Models;

/// <summary>
/// A decoder whose video frames depend only on the latent frames up to their own (a causal video VAE such as Wan's):
/// decoding the first k latent frames gives exactly the first <c>1 + (k - 1) * TemporalFactor</c> frames of decoding
/// them all. <see cref="VideoFrameDecoding"/> uses this to decode only the prefix a set of frames needs.
/// </summary>
public interface ICausalVideoDecoder : IVideoDecoder
{
}

/// <summary>
/// Decoding chosen video frames of a latent without decoding the whole video where the decoder allows it (MotionPrompt
/// decodes a few random frame pairs of the predicted clean latent at every guided iteration).
/// </summary>
public static class VideoFrameDecoding
{
    /// <summary>
    /// The latent frame that video frame <paramref name="videoFrame"/> is decoded from: frame 0 from latent frame 0, frame
    /// j ≥ 1 from latent frame <c>1 + (j - 1) / temporalFactor</c>.
    /// </summary>
    public static int LatentFrameOf(int videoFrame, int temporalFactor)
    {
        if (videoFrame < 0) throw new ArgumentOutOfRangeException(nameof(videoFrame), $"VideoFrameDecoding: frame {videoFrame} is negative.");
        if (temporalFactor < 1) throw new ArgumentOutOfRangeException(nameof(temporalFactor), $"VideoFrameDecoding: temporal factor {temporalFactor} must be at least 1.");
        return videoFrame == 0 ? 0 : 1 + (videoFrame - 1) / temporalFactor;
    }

    /// <summary>How many leading latent frames a causal decoder needs to produce every frame in <paramref name="frames"/>.</summary>
    public static int LatentPrefixFor(IReadOnlyCollection<int> frames, int temporalFactor) =>
        frames.Count == 0 ? 0 : LatentFrameOf(frames.Max(), temporalFactor) + 1;

    /// <summary>
    /// Video frames <paramref name="frames"/> (in the given order, repeats allowed) of <paramref name="latent"/>
    /// [B, C, F', H', W']: [B, 3, frames.Count, H, W]. An <see cref="ICausalVideoDecoder"/> decodes only the latent prefix
    /// the latest requested frame needs; any other decoder decodes everything and the frames are picked out. Differentiable
    /// with respect to the latent when the decoder is.
    /// </summary>
    public static Tensor DecodeFrames(IVideoDecoder decoder, Tensor latent, IReadOnlyList<int> frames)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(latent);
        ArgumentNullException.ThrowIfNull(frames);
        if (latent.Rank != 5)
            throw new ArgumentException($"VideoFrameDecoding: latent must be [B, C, F', H', W'], got {latent.Shape}.", nameof(latent));
        if (frames.Count == 0) throw new ArgumentException("VideoFrameDecoding: no frames requested.", nameof(frames));
        int tf = decoder.TemporalFactor, latentFrames = latent.Size(2), videoFrames = 1 + (latentFrames - 1) * tf;
        foreach (var f in frames)
            if (f < 0 || f >= videoFrames)
                throw new ArgumentOutOfRangeException(nameof(frames), $"VideoFrameDecoding: frame {f} is outside the {videoFrames} frames a latent of {latentFrames} latent frames decodes to.");

        int needed = decoder is ICausalVideoDecoder ? LatentPrefixFor(frames, tf) : latentFrames;
        var part = needed < latentFrames ? Ops.Narrow(latent, 2, 0, needed) : latent; // [B, C, needed, H', W']
        var video = decoder.Decode(part);                                                // [B, 3, 1 + (needed - 1) tf, H, W]
        return Ops.IndexSelect(video, 2, frames.ToArray());                              // [B, 3, k, H, W]
    }
}
