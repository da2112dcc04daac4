using FlowGuide.Metrics;
using FlowGuide.Models;
using FlowGuide.Models.Flow;
using FlowGuide.Models.Text;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training;

/// <summary>
/// Settings of <see cref="FlowValidator"/>: how motion is scored on a fixed, small set of validation clips (indices
/// 0..<see cref="Clips"/>-1 of the validation split). Cheap by default: 4 clips, 10 UniPC steps, the fast flow settings.
/// </summary>
public sealed record FlowValidationOptions
{
    /// <summary>Validation clips scored (their captions are the prompt set; their world flows the reference).</summary>
    public int Clips { get; init; } = 4;

    /// <summary>
    /// Noise levels t at which the one-step clean prediction <c>zhat0 = z_t - t v</c> of each clip's own latent is decoded
    /// and its flow compared with the clip's world flow (the paper's validation flow error; position-aligned). Empty: skip.
    /// </summary>
    public double[] Timesteps { get; init; } = { 0.2, 0.5 };

    /// <summary>Sampling steps of the generated videos (0: no sampling).</summary>
    public int SampleSteps { get; init; } = 10;

    public float GuidanceScale { get; init; } = 5f;
    public double Shift { get; init; } = 3.0;
    public SamplerKind Sampler { get; init; } = SamplerKind.UniPc;

    /// <summary>Seed of clip k's generation is Seed + k, so every validation sees the same noise.</summary>
    public ulong Seed { get; init; } = 1000;

    /// <summary>
    /// Score the EMA weights (as the flow-matching validation does) instead of the current training weights. Off by
    /// default: an EMA of decay 0.999 lags about a thousand steps, which would hide the early-training differences the
    /// FlowLoss experiment looks for.
    /// </summary>
    public bool UseEma { get; init; }

    /// <summary>Flow estimator settings (no gradients are taken).</summary>
    public ClassicalFlowOptions Estimator { get; init; } = FlowLossOptions.FastEstimator;

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (Clips < 1) throw new ArgumentException($"FlowValidationOptions: clips must be at least 1, got {Clips}.");
        ArgumentNullException.ThrowIfNull(Timesteps, nameof(Timesteps));
        if (Timesteps.Any(t => !(t > 0 && t < 1))) throw new ArgumentException("FlowValidationOptions: timesteps must lie in (0, 1).");
        if (SampleSteps < 0) throw new ArgumentException($"FlowValidationOptions: sample steps must be >= 0, got {SampleSteps}.");
        if (Timesteps.Length == 0 && SampleSteps == 0) throw new ArgumentException("FlowValidationOptions: neither timesteps nor sampling: nothing to measure.");
        ArgumentNullException.ThrowIfNull(Estimator, nameof(Estimator));
        Estimator.Validate();
    }
}

/// <summary>One validation of motion; NaN where a part was not measured. Errors are in pixels, means over clips (and timesteps).</summary>
/// <param name="PredictionEpe">
/// EPE between the estimated flow of the decoded one-step prediction and the estimated flow of the ground-truth clip (the
/// paper's validation flow error: the estimator's own bias, e.g. flow smeared over flat backgrounds, cancels).
/// </param>
/// <param name="PredictionWorldEpe">EPE of the same predicted flow against the world's exact flow.</param>
/// <param name="SampleEpe">EPE of a generated video's flow against the world flow of the clip whose caption prompted it.</param>
/// <param name="SampleMotionError">
/// Placement-free motion error of the generated videos: mean over frame pairs of |mean flow of the generated pair - mean
/// flow of the ground-truth pair| (both estimated), i.e. how far the overall motion (direction and amount, pans included) is off.
/// </param>
/// <param name="SampleFlicker">Mean VBench temporal-flickering score of the generated videos (1 = static).</param>
/// <param name="Seconds">Wall time of the validation.</param>
public sealed record FlowValidationResult(double PredictionEpe, double PredictionWorldEpe, double SampleEpe, double SampleMotionError, double SampleFlicker, double Seconds);

/// <summary>
/// Scores how well a text-to-video transformer has learned the world's motion, for training curves: (1) the flow error of
/// its denoised prediction of validation clips at fixed noise levels (aligned with the clip, so per-pixel errors are
/// meaningful), and (2) the flow error, overall-motion error and flicker of videos sampled from the same clips' captions.
/// For (2) the caption fixes shape, colour and motion but not where things start, so the per-pixel EPE against the clip's
/// flow measures motion only up to placement (a static video scores <see cref="StaticWorldEpe"/>); the overall-motion
/// error does not depend on placement.
/// </summary>
/// <remarks>
/// The estimator (TV-L1) spreads a shape's motion over a flat background, where nothing constrains the flow, so its EPE
/// against the world's flow on the world's plain-background clips can exceed a static video's (<see cref="EstimatorWorldEpe"/>);
/// comparisons between two estimated flows are the robust measures here.
/// </remarks>
public sealed class FlowValidator
{
    private readonly ClassicalFlow _flow;
    private readonly int _frames, _width, _height;
    private readonly List<Clip> _clips = new();

    private sealed record Clip(string Caption, float[] WorldFlow, float[] EstimatedFlow, float[] Video);

    public FlowValidator(FlowValidationOptions options, int frames, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        (_frames, _width, _height) = (frames, width, height);
        _flow = new ClassicalFlow(options.Estimator);
        using var _ = GradMode.NoGrad();
        for (int i = 0; i < options.Clips; i++)
        {
            using var scope = new TensorScope();
            var clip = MotionWorld.Generate(i, WorldSplit.Validation, frames, width, height);
            var video = clip.Video.Reshape(1, 3, frames, height, width);
            _clips.Add(new Clip(clip.Caption, clip.Flow.ToArray(), FlowsOf(video), clip.Video.ToArray()));
        }
    }

    public FlowValidationOptions Options { get; }

    /// <summary>EPE of an all-zero flow (a static video) against the clips' world flows.</summary>
    public double StaticWorldEpe => _clips.Average(c => Epe(new float[c.WorldFlow.Length], c.WorldFlow));

    /// <summary>EPE of an all-zero flow against the clips' estimated flows: the prediction error of a model that learned no motion.</summary>
    public double StaticEpe => _clips.Average(c => Epe(new float[c.EstimatedFlow.Length], c.EstimatedFlow));

    /// <summary>Overall-motion error of a static video (its mean flow is zero).</summary>
    public double StaticMotionError => _clips.Average(c => MotionError(new float[c.EstimatedFlow.Length], c.EstimatedFlow));

    /// <summary>EPE of the estimator on the rendered clips against their world flows.</summary>
    public double EstimatorWorldEpe => _clips.Average(c => Epe(c.EstimatedFlow, c.WorldFlow));

    /// <summary>
    /// Runs the validation with <paramref name="model"/> (frozen, evaluation mode). <paramref name="latentOf"/> gives the
    /// model-space latent [1, C, F', H', W'] of validation clip i (for the prediction error).
    /// </summary>
    public FlowValidationResult Run(IVelocityModel model, ITextEncoder textEncoder, IVideoDecoder decoder, Func<long, Tensor> latentOf)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(textEncoder);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(latentOf);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var _ = GradMode.NoGrad();
        var o = Options;

        // 1. one-step clean predictions at fixed t (fixed eps per clip and t), decoded, flows compared
        double predEpe = double.NaN, predWorld = double.NaN;
        if (o.Timesteps.Length > 0)
        {
            predEpe = predWorld = 0;
            for (int k = 0; k < o.Timesteps.Length; k++)
            {
                float t = (float)o.Timesteps[k];
                for (int i = 0; i < _clips.Count; i++)
                {
                    using var scope = new TensorScope();
                    var z0 = latentOf(i);
                    var eps = Tensor.Randn(new Rng(0xF10E0000UL + (ulong)i * 131 + (ulong)k), z0.Shape.ToArray());
                    var zt = z0.MulScalar(1 - t).Add(eps.MulScalar(t));
                    var v = model.Forward(zt, Tensor.Full(1000f * t, 1), textEncoder.Encode(_clips[i].Caption));
                    var flow = FlowsOf(decoder.Decode(zt.Sub(v.MulScalar(t))));                           // [F-1, 2, H, W]
                    predEpe += Epe(flow, _clips[i].EstimatedFlow);
                    predWorld += Epe(flow, _clips[i].WorldFlow);
                }
            }
            predEpe /= o.Timesteps.Length * _clips.Count;
            predWorld /= o.Timesteps.Length * _clips.Count;
        }

        // 2. videos sampled from the clips' captions
        double sampleEpe = double.NaN, motion = double.NaN, flicker = double.NaN;
        if (o.SampleSteps > 0)
        {
            var pipeline = new TextToVideoPipeline(model, textEncoder, decoder);
            sampleEpe = motion = flicker = 0;
            for (int i = 0; i < _clips.Count; i++)
            {
                using var scope = new TensorScope();
                var gen = new GenerationOptions
                {
                    Steps = o.SampleSteps, GuidanceScale = o.GuidanceScale, Shift = o.Shift, Sampler = o.Sampler, Seed = o.Seed + (ulong)i,
                    Frames = _frames, Height = _height, Width = _width,
                };
                var video = pipeline.Generate(_clips[i].Caption, gen).Video;                              // [1, 3, F, H, W]
                var flow = FlowsOf(video);
                sampleEpe += Epe(flow, _clips[i].WorldFlow);
                motion += MotionError(flow, _clips[i].EstimatedFlow);
                flicker += TemporalQuality.TemporalFlickering(video.Reshape(3, _frames, _height, _width));
            }
            sampleEpe /= _clips.Count;
            motion /= _clips.Count;
            flicker /= _clips.Count;
        }
        return new FlowValidationResult(predEpe, predWorld, sampleEpe, motion, flicker, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Forward flows of consecutive frames of a video [1, 3, F, H, W] as planar [F-1, 2, H, W] values.</summary>
    private float[] FlowsOf(Tensor video)
    {
        int f = video.Size(2), h = video.Size(3), w = video.Size(4);
        if (f != _frames || h != _height || w != _width)
            throw new InvalidOperationException($"FlowValidator: the decoder returned {video.Shape}, expected [1, 3, {_frames}, {_height}, {_width}].");
        var first = video.Narrow(2, 0, f - 1).Permute(0, 2, 1, 3, 4).Reshape(f - 1, 3, h, w);           // [F-1, 3, H, W]
        var second = video.Narrow(2, 1, f - 1).Permute(0, 2, 1, 3, 4).Reshape(f - 1, 3, h, w);
        return _flow.Estimate(first, second).ToArray();
    }

    private double Epe(float[] flow, float[] reference)
    {
        using var scope = new TensorScope();
        return FlowMetrics.EndpointError(Tensor.FromArray(flow, _frames - 1, 2, _height, _width), Tensor.FromArray(reference, _frames - 1, 2, _height, _width));
    }

    /// <summary>Mean over frame pairs of the distance between the two flows' mean vectors.</summary>
    private double MotionError(float[] flow, float[] reference)
    {
        int plane = _height * _width, pairs = _frames - 1;
        double sum = 0;
        for (int p = 0; p < pairs; p++)
        {
            double du = 0, dv = 0;
            for (int i = 0; i < plane; i++)
            {
                du += flow[(2 * p) * plane + i] - reference[(2 * p) * plane + i];
                dv += flow[(2 * p + 1) * plane + i] - reference[(2 * p + 1) * plane + i];
            }
            sum += Math.Sqrt(du * du + dv * dv) / plane;
        }
        return sum / pairs;
    }
}
