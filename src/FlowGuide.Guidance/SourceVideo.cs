using System.Globalization;
using FlowGuide.Media;
using FlowGuide.Models;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>How <see cref="SourceVideo"/> picks the model's frame count out of a source video.</summary>
public enum FrameSampling
{
    /// <summary>Frames spread evenly over the whole clip, first and last kept (nearest frame, no blending): the whole motion, sped up or slowed down.</summary>
    Uniform,
    /// <summary>The first frames at the source's own speed (the rest of the clip is dropped).</summary>
    First,
}

/// <summary>How a source video becomes the model's input (see <see cref="SourceVideo.Prepare"/>).</summary>
public sealed record SourceVideoOptions
{
    public FrameSampling Sampling { get; init; } = FrameSampling.Uniform;

    /// <summary>Aspect ratio handling: <see cref="FitMode.Cover"/> (scale and centre-crop, the default), Contain (pad with black), Stretch.</summary>
    public FitMode Fit { get; init; } = FitMode.Cover;
}

/// <summary>A source video ready for motion transfer.</summary>
/// <param name="Video">[1, 3, Frames, Height, Width] in [-1, 1]: what the VAE encoded (and what motion fidelity should compare outputs with).</param>
/// <param name="Latent">[1, C, F', H', W']: the clean source latent x_src in model space (the VAE's normalised posterior mean).</param>
/// <param name="SourceFrames">Frames in the file.</param>
/// <param name="SourceWidth">Width of the file's frames.</param>
/// <param name="SourceHeight">Height of the file's frames.</param>
/// <param name="SourceFps">Frame rate of the file (25 where the format does not say).</param>
/// <param name="FrameIndices">Which source frame each output frame is.</param>
/// <param name="Warnings">Lines a user should see (e.g. a clip shorter than the model's frame count).</param>
public sealed record PreparedSource(Tensor Video, Tensor Latent, int SourceFrames, int SourceWidth, int SourceHeight, double SourceFps,
    IReadOnlyList<int> FrameIndices, IReadOnlyList<string> Warnings);

/// <summary>
/// Turns any readable video — a file ffmpeg decodes, a Y4M or GIF file, a folder of frames (<see cref="VideoIO.ReadFrames"/>)
/// — into FlowMotion's source: resampled in time to the model's <c>k T + 1</c> frames, fitted to the model's size, and
/// encoded to a clean latent. Noising per step is the hook's business (<see cref="FlowMotionHook"/>) or the
/// baseline's (<see cref="NoisedSourceStart"/>); <see cref="Noised"/> is the formula both use.
/// </summary>
/// <remarks>
/// A clip with fewer frames than needed (but at least 2) is resampled uniformly with repeated frames whatever the
/// sampling mode, and a warning says so and by how much its motion slows down. One frame is an error: there is no
/// motion to transfer. Read failures (missing file, undecodable data, a codec that needs ffmpeg when none is installed)
/// surface as <see cref="IOException"/> whose message names the file.
/// </remarks>
public static class SourceVideo
{
    /// <summary>Reads, conforms and encodes <paramref name="path"/> for a model of <paramref name="frames"/> x <paramref name="height"/> x <paramref name="width"/>.</summary>
    public static PreparedSource Prepare(string path, IVideoAutoencoder autoencoder, int frames, int height, int width, SourceVideoOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(autoencoder);
        CheckSize(autoencoder, frames, height, width);
        var video = Read(path);
        var (tensor, indices, warnings) = Conform(video, path, frames, height, width, options ?? new SourceVideoOptions());
        var latent = Encode(autoencoder, tensor);
        return new PreparedSource(tensor, latent, video.FrameCount, video.Width, video.Height, video.Fps, indices, warnings);
    }

    /// <summary>Reads every frame; any media error becomes an <see cref="IOException"/> with the reader's one-line message (which names the file).</summary>
    public static RgbVideo Read(string path)
    {
        try
        {
            return VideoIO.ReadFrames(path);
        }
        catch (MediaException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <summary>
    /// The source frames as the model's video [1, 3, frames, height, width] in [-1, 1]: frames picked per
    /// <see cref="SourceVideoOptions.Sampling"/> (nearest source frame), then fitted per <see cref="SourceVideoOptions.Fit"/>.
    /// <paramref name="name"/> names the source in messages.
    /// </summary>
    public static (Tensor Video, int[] FrameIndices, List<string> Warnings) Conform(RgbVideo video, string name, int frames, int height, int width, SourceVideoOptions options)
    {
        ArgumentNullException.ThrowIfNull(video);
        ArgumentNullException.ThrowIfNull(options);
        if (frames < 1 || height < 1 || width < 1)
            throw new ArgumentException($"SourceVideo: target size {frames} frames x {height}x{width} must be positive.");
        if (!Enum.IsDefined(options.Sampling)) throw new ArgumentException($"SourceVideo: unknown frame sampling {options.Sampling}.");
        if (!Enum.IsDefined(options.Fit)) throw new ArgumentException($"SourceVideo: unknown fit {options.Fit}.");
        int n = video.FrameCount;
        if (n < 2 && frames > 1)
            throw new ArgumentException($"source '{name}' has {n} frame; motion transfer needs a video of at least 2 frames.");
        var warnings = new List<string>();

        // 1. time: pick source frames (copies of the 8-bit frames, so a long clip never becomes a float tensor)
        var indices = new int[frames];
        if (n >= frames && options.Sampling == FrameSampling.First)
            for (int i = 0; i < frames; i++) indices[i] = i;
        else
        {
            indices = UniformIndices(n, frames);
            if (n < frames)
                warnings.Add(string.Create(CultureInfo.InvariantCulture,
                    $"source '{name}' has {n} frames, fewer than the {frames} the model takes: resampled uniformly by repeating frames (its motion plays {(frames - 1.0) / (n - 1):0.##}x slower)"));
        }
        var picked = new RgbVideo(video.Width, video.Height, video.Fps, indices.Select(i => video.Frames[i]).ToArray());

        // 2. space: fit to the model's size
        var t = picked.ToTensor();                                   // [3, frames, h, w]
        var fitted = VideoIO.Fit(t, height, width, options.Fit);     // [3, frames, height, width]
        if (!ReferenceEquals(fitted, t)) t.Dispose();
        return (fitted.Reshape(1, 3, frames, height, width), indices, warnings); // [1, 3, F, H, W]
    }

    /// <summary>
    /// Source frame for each of <paramref name="frames"/> outputs spread over <paramref name="count"/> source frames:
    /// <c>round(i (count - 1) / (frames - 1))</c>, halves away from zero (frame 0 and the last frame always included).
    /// </summary>
    public static int[] UniformIndices(int count, int frames)
    {
        if (count < 1 || frames < 1) throw new ArgumentException($"SourceVideo.UniformIndices: counts must be positive, got {count} source frames and {frames} outputs.");
        var idx = new int[frames];
        for (int i = 0; i < frames; i++)
        {
            double pos = frames == 1 ? 0 : (double)i * (count - 1) / (frames - 1);
            idx[i] = Math.Min((int)Math.Round(pos, MidpointRounding.AwayFromZero), count - 1);
        }
        return idx;
    }

    /// <summary>The clean latent [1, C, F', H', W'] of a video [1, 3, F, H, W] in [-1, 1], without recording gradients.</summary>
    public static Tensor Encode(IVideoAutoencoder autoencoder, Tensor video)
    {
        ArgumentNullException.ThrowIfNull(autoencoder);
        ArgumentNullException.ThrowIfNull(video);
        if (video.Rank != 5 || video.Size(0) != 1 || video.Size(1) != 3)
            throw new ArgumentException($"SourceVideo.Encode: video must be [1, 3, F, H, W], got {video.Shape}.", nameof(video));
        CheckSize(autoencoder, video.Size(2), video.Size(3), video.Size(4));
        using var _ = GradMode.NoGrad();
        return autoencoder.Encode(video);
    }

    /// <summary>Forward noising of the flow-matching path: <c>(1 - sigma) latent + sigma noise</c>.</summary>
    public static Tensor Noised(Tensor latent, double sigma, Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(latent);
        ArgumentNullException.ThrowIfNull(noise);
        if (latent.Shape != noise.Shape) throw new ArgumentException($"SourceVideo.Noised: noise {noise.Shape} must have the latent's shape {latent.Shape}.");
        if (!(sigma >= 0 && sigma <= 1)) throw new ArgumentException($"SourceVideo.Noised: sigma must lie in [0, 1], got {sigma}.");
        return Ops.Add(Ops.MulScalar(latent, (float)(1 - sigma)), Ops.MulScalar(noise, (float)sigma));
    }

    private static void CheckSize(IVideoDecoder vae, int frames, int height, int width)
    {
        int tf = vae.TemporalFactor, sf = vae.SpatialFactor;
        if (frames < 1 || (frames - 1) % tf != 0)
            throw new ArgumentException($"SourceVideo: {frames} frames is not of the form {tf}k + 1 the VAE takes.");
        if (height < 1 || width < 1 || height % sf != 0 || width % sf != 0)
            throw new ArgumentException($"SourceVideo: {height}x{width} is not a positive multiple of the VAE's spatial factor {sf}.");
    }
}
