using FlowGuide.Tensors;

namespace FlowGuide.Models;

/// <summary>
/// A decoder whose video frames depend only on the latent frames up to their own (a causal video VAE such as Wan's):
/// decoding the first k latent frames gives exactly the first <c>1 + (k - 1) * TemporalFactor</c> frames of decoding
/// them all. <see cref="VideoFrameDecoding"/> uses this to decode only the prefix a set of frames needs.
/// </summary>
public interface ICausalVideoDecoder : IVideoDecoder
{
    /// <summary>
    /// The video frames of latent frames [<paramref name="start"/>, start + <paramref name="count"/>) of
    /// <paramref name="latent"/>: frame 0 alone for latent frame 0, TemporalFactor frames for each later one, with the
    /// same values as those frames of <see cref="IVideoDecoder.Decode"/> on the whole latent. Latent frames before the
    /// range still run, to fill the causal history; with <paramref name="historyGradient"/> they are differentiated too
    /// (the exact gradient), without it they run untaped, their activations are freed at once and no gradient reaches them.
    /// </summary>
    Tensor DecodeLatentRange(Tensor latent, int start, int count, bool historyGradient);
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
    /// [B, C, F', H', W']: [B, 3, frames.Count, H, W]. An <see cref="ICausalVideoDecoder"/> decodes only the latent frames
    /// from the earliest to the latest one the frames need (after running the frames before them to fill its causal
    /// history, differentiated only with <paramref name="historyGradient"/>); any other decoder decodes everything and the
    /// frames are picked out. The values never depend on <paramref name="historyGradient"/>; with it on (the default) the
    /// gradient with respect to the latent is exact, without it the latent frames before the earliest needed one get none.
    /// </summary>
    public static Tensor DecodeFrames(IVideoDecoder decoder, Tensor latent, IReadOnlyList<int> frames, bool historyGradient = true)
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

        if (decoder is not ICausalVideoDecoder causal)
            return Ops.IndexSelect(decoder.Decode(latent), 2, frames.ToArray());         // [B, 3, k, H, W]
        int start = LatentFrameOf(frames.Min(), tf), end = LatentPrefixFor(frames, tf);
        var video = causal.DecodeLatentRange(latent, start, end - start, historyGradient); // [B, 3, frames of latent start..end-1, H, W]
        int offset = start == 0 ? 0 : 1 + (start - 1) * tf;                              // video index of the range's first frame
        return Ops.IndexSelect(video, 2, frames.Select(f => f - offset).ToArray());      // [B, 3, k, H, W]
    }
}
