using FlowGuide.Models;
using FlowGuide.Models.Video;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training;

/// <summary>One clip's reconstruction scores (PSNR in dB with the peak over the [-1, 1] range, as training validates).</summary>
/// <param name="Index">The clip's index in its split.</param>
/// <param name="Psnr">Over every pixel of every frame.</param>
/// <param name="MovingPsnr">Over the pixels that change (see <see cref="VaeEvaluation.MovingMask"/>); NaN when none does.</param>
/// <param name="MovingFraction">The share of pixels that change.</param>
/// <param name="Posterior">The posterior's statistics, for an autoencoder that exposes them (<see cref="CompactVae"/>); else null.</param>
public sealed record VaeClipScore(long Index, double Psnr, double MovingPsnr, double MovingFraction, PosteriorStats? Posterior = null);

/// <summary>
/// One clip's posterior in raw latent space, averaged over its latent elements: the posterior std (the noise a
/// training-time sample adds) and the first two moments of the posterior mean (whose spread that noise is set against).
/// </summary>
public sealed record PosteriorStats(double MeanStd, double MeanOfMeans, double MeanOfSquaredMeans)
{
    /// <summary>(mean posterior std, spread of the posterior means) pooled over clips of equal latent size.</summary>
    public static (double Std, double Spread) Pool(IReadOnlyCollection<PosteriorStats> clips)
    {
        double m = clips.Average(c => c.MeanOfMeans);
        return (clips.Average(c => c.MeanStd), Math.Sqrt(Math.Max(0, clips.Average(c => c.MeanOfSquaredMeans) - m * m)));
    }
}

/// <summary>
/// How well a video autoencoder reconstructs motion-world clips. Besides PSNR over all pixels (which the still
/// background dominates: a moving shape covers a few percent of them) it scores the pixels that change from frame to
/// frame, where a decoder that smears a moving shape over the frames of one latent frame loses.
/// </summary>
public static class VaeEvaluation
{
    /// <summary>A pixel changes when some channel differs from the previous or the next frame by more than this ([-1, 1] range, 6.4/255).</summary>
    public const float MotionThreshold = 0.05f;

    /// <summary>
    /// [F, H, W] mask of the pixels of <paramref name="clip"/> ([3, F, H, W] or [1, 3, F, H, W]) that differ from the
    /// previous or the next frame by more than <see cref="MotionThreshold"/> in some channel.
    /// </summary>
    public static bool[] MovingMask(Tensor clip)
    {
        var (c, f, hw) = Dims(clip, "MovingMask");
        var x = clip.Span;
        var mask = new bool[f * hw];
        for (int t = 1; t < f; t++)
            for (int i = 0; i < hw; i++)
            {
                bool changed = false;
                for (int ch = 0; ch < c && !changed; ch++)
                    changed = Math.Abs(x[(ch * f + t) * hw + i] - x[(ch * f + t - 1) * hw + i]) > MotionThreshold;
                if (changed) mask[t * hw + i] = mask[(t - 1) * hw + i] = true;
            }
        return mask;
    }

    /// <summary>Scores a reconstruction against its clip (same shape, [3, F, H, W] or [1, 3, F, H, W], range [-1, 1]).</summary>
    public static VaeClipScore Score(long index, Tensor clip, Tensor reconstruction)
    {
        var (c, f, hw) = Dims(clip, "Score");
        if (reconstruction.Numel != clip.Numel)
            throw new ArgumentException($"VaeEvaluation.Score: reconstruction {reconstruction.Shape} does not match clip {clip.Shape}.");
        var mask = MovingMask(clip);
        var a = clip.Span; var b = reconstruction.Span;
        double all = 0, moving = 0;
        long movingCount = 0;
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < f * hw; p++)
            {
                int i = ch * f * hw + p;
                double d = (a[i] - b[i]) * 0.5, e = d * d;
                all += e;
                if (mask[p]) { moving += e; movingCount++; }
            }
        static double Psnr(double mse) => 10 * Math.Log10(1.0 / Math.Max(mse, 1e-12));
        return new VaeClipScore(index, Psnr(all / a.Length), movingCount == 0 ? double.NaN : Psnr(moving / movingCount),
            (double)movingCount / (c * f * hw));
    }

    /// <summary>Reconstructs (posterior mean, deterministic) clips <paramref name="first"/> .. first + count - 1 of a split and scores each.</summary>
    public static IReadOnlyList<VaeClipScore> Evaluate(IVideoAutoencoder vae, WorldSplit split, long first, int count, int frames, int width, int height,
        CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(vae);
        if (count < 1) throw new ArgumentException($"VaeEvaluation: clip count must be at least 1, got {count}.");
        var scores = new List<VaeClipScore>(count);
        using var _ = GradMode.NoGrad();
        for (long i = first; i < first + count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = new TensorScope();
            var clip = VaeTrainer.Batch(MotionWorld.Generate(i, split, frames, width, height).Video);
            if (vae is CompactVae compact)
            {
                // the same posterior mean Encode returns, with its log-variance for the statistics
                var (mean, logVar) = compact.EncodeMoments(clip);
                scores.Add(Score(i, clip, vae.Decode(compact.Normalize(mean))) with { Posterior = Posterior(mean, logVar) });
            }
            else scores.Add(Score(i, clip, vae.Decode(vae.Encode(clip))));
        }
        return scores;
    }

    private static PosteriorStats Posterior(Tensor mean, Tensor logVar)
    {
        var m = mean.Span; var lv = logVar.Span;
        double std = 0, sum = 0, sum2 = 0;
        for (int j = 0; j < m.Length; j++) { std += Math.Exp(0.5 * lv[j]); sum += m[j]; sum2 += (double)m[j] * m[j]; }
        return new PosteriorStats(std / m.Length, sum / m.Length, sum2 / m.Length);
    }

    private static (int C, int F, int Hw) Dims(Tensor clip, string op)
    {
        var s = clip.Shape.ToArray();
        if (s.Length == 5 && s[0] == 1) s = s[1..];
        if (s.Length != 4 || s[1] < 2)
            throw new ArgumentException($"VaeEvaluation.{op}: clip has shape {clip.Shape}, expected [3, F, H, W] or [1, 3, F, H, W] with F >= 2.");
        return (s[0], s[1], s[2] * s[3]);
    }
}
