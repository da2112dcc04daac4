using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>
/// VBench's subject and background consistency with FlowGuide's stand-in frame features (VBench uses DINO ViT-B/16 and
/// CLIP ViT-B/32; see <see cref="GradientHistogramFeatures"/> and <see cref="ColourHistogramFeatures"/>). 1 = the frames'
/// features never change.
/// </summary>
public static class Consistency
{
    /// <summary>The subject-consistency stand-in (<see cref="GradientHistogramFeatures"/>, 4x4 cells).</summary>
    public static IFrameFeatures SubjectFeatures { get; } = new GradientHistogramFeatures();

    /// <summary>The background-consistency stand-in (<see cref="ColourHistogramFeatures"/>, 8^3 bins, 8x8 thumbnail).</summary>
    public static IFrameFeatures BackgroundFeatures { get; } = new ColourHistogramFeatures();

    /// <summary>Subject consistency: <see cref="Compute"/> with <see cref="SubjectFeatures"/>.</summary>
    public static double Subject(Tensor video) => Compute(video, SubjectFeatures);

    /// <summary>Background consistency: <see cref="Compute"/> with <see cref="BackgroundFeatures"/>.</summary>
    public static double Background(Tensor video) => Compute(video, BackgroundFeatures);

    /// <summary>
    /// Mean over frames i = 1 .. F-1 of s_i = (max(0, cos(d_{i-1}, d_i)) + max(0, cos(d_0, d_i))) / 2, where d are the
    /// frames' features from <paramref name="features"/>.
    /// </summary>
    public static double Compute(Tensor video, IFrameFeatures features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var frames = VideoFrames.From(video, "Consistency");
        var first = features.Extract(frames[0], frames.Height, frames.Width);
        var prev = first;
        double sum = 0;
        for (int i = 1; i < frames.Count; i++)
        {
            var d = features.Extract(frames[i], frames.Height, frames.Width);
            if (d.Length != first.Length)
                throw new ArgumentException($"Consistency.Compute: {features.Name} gave {d.Length} features for frame {i} but {first.Length} for frame 0; expected the same length.");
            sum += (Math.Max(0, FeatureMath.Cosine(prev, d)) + Math.Max(0, FeatureMath.Cosine(first, d))) / 2;
            prev = d;
        }
        return sum / (frames.Count - 1);
    }
}
