namespace FlowGuide.Models.Flow;

/// <summary>The value range of the frames handed to <see cref="ClassicalFlow.Estimate"/>.</summary>
public enum PixelRange
{
    /// <summary>Frames in [-1, 1], as a video VAE decodes them.</summary>
    MinusOneToOne,
    /// <summary>Frames in [0, 1], as images are usually loaded.</summary>
    ZeroToOne,
}

/// <summary>
/// Settings of <see cref="ClassicalFlow"/>: a coarse-to-fine TV-L1 flow (Zach, Pock and Bischof 2007; Wedel et al. 2009)
/// with an optional brightness-change field (Chambolle and Pock 2011), unrolled for a fixed number of iterations so that
/// it is differentiable. Intensities are on a [0, 255] scale internally, so <see cref="Lambda"/> keeps the meaning it has
/// in OpenCV's and IPOL's TV-L1.
/// </summary>
public sealed record ClassicalFlowOptions
{
    /// <summary>Range of the input frames; they are converted to grey levels in [0, 255].</summary>
    public PixelRange InputRange { get; init; } = PixelRange.MinusOneToOne;

    /// <summary>The most pyramid levels (1 = the input resolution only); fewer are used where a level would be smaller than <see cref="MinLevelSize"/>.</summary>
    public int Levels { get; init; } = 6;

    /// <summary>Ratio of one level's size to the next finer one, in (0, 1): 0.5 halves each side.</summary>
    public double ScaleFactor { get; init; } = 0.5;

    /// <summary>A coarser level is added only while its shorter side keeps at least this many pixels.</summary>
    public int MinLevelSize { get; init; } = 8;

    /// <summary>How many times per level frame 2 is re-warped by the current flow and the data term re-linearised.</summary>
    public int Warps { get; init; } = 5;

    /// <summary>Primal-dual iterations after each warp.</summary>
    public int Iterations { get; init; } = 30;

    /// <summary>
    /// Iterations per warp at the finest level only (null: <see cref="Iterations"/>). The finest level costs about three
    /// quarters of the run at ScaleFactor 0.5, while most of the smoothing that fills flat regions happens on coarser
    /// levels, so fewer iterations here buy speed for little accuracy.
    /// </summary>
    public int? FinestIterations { get; init; } = 15;

    /// <summary>Weight of the data term against total variation (larger: less smoothing); on [0, 255] intensities.</summary>
    public float Lambda { get; init; } = 0.15f;

    /// <summary>Coupling between the data and smoothness sub-problems (TV-L1's theta).</summary>
    public float Theta { get; init; } = 0.3f;

    /// <summary>Dual step size; at most 0.25 for the iteration to be stable.</summary>
    public float Tau { get; init; } = 0.25f;

    /// <summary>
    /// Weight of a smooth additive brightness-change field estimated alongside the flow; 0 turns it off. With it, lighting
    /// changes between the frames are explained by that field instead of by false motion.
    /// </summary>
    public float Gamma { get; init; } = 0f;

    /// <summary>Standard deviation, in pixels, of the Gaussian applied to both grey frames before the pyramid is built (0: none).</summary>
    public float PreSmoothSigma { get; init; } = 0f;

    /// <summary>
    /// Structure-texture split (Wedel et al. 2009): each grey frame becomes I - alpha * blur(I), so that slow shading
    /// and brightness offsets between the frames weigh less than texture; 0 keeps the plain intensities.
    /// </summary>
    public float TextureAlpha { get; init; } = 0.95f;

    /// <summary>Standard deviation in pixels of the blur that estimates the structure part for <see cref="TextureAlpha"/>.</summary>
    public float TextureSigma { get; init; } = 2f;

    /// <summary>
    /// Local contrast normalisation: each grey frame becomes (I - mean) / sqrt(var + eps) over a Gaussian window of this
    /// standard deviation in pixels, rescaled to about [0, 255] spread, making the data term invariant to local gain and
    /// offset changes; 0 turns it off.
    /// </summary>
    public float NormalizeSigma { get; init; } = 0f;

    /// <summary>
    /// When differentiating, run each warp (the linearisation around the current flow and its primal-dual iterations) as
    /// a checkpointed segment that is recomputed during backward, so the tape holds only each warp's input state. The
    /// iterations themselves are one fused op that saves nothing per iteration (see docs/benchmarks.md: 182 MiB peak
    /// for forward + backward of a 256x256 pair without checkpointing), so this now saves the few linearisation maps per
    /// warp at the cost of recomputing them and the iterations once more. Null (the default) checkpoints when N x H x W
    /// exceeds <see cref="CheckpointAbovePixels"/>.
    /// </summary>
    public bool? CheckpointWarps { get; init; }

    /// <summary>The batch-times-area above which <see cref="CheckpointWarps"/> = null turns checkpointing on (default 2^18, four 256x256 pairs).</summary>
    public long CheckpointAbovePixels { get; init; } = 1L << 18;

    /// <summary>
    /// The defaults: 6 levels at ratio 0.5, 5 warps of 30 iterations (15 at the finest level), lambda 0.15, structure-texture
    /// split 0.95 at sigma 2. Chosen on the mean endpoint error over procedural pairs on photo textures (with brightness
    /// changes) and the two real pairs in the shared data; see docs/benchmarks.md.
    /// </summary>
    public static ClassicalFlowOptions Default { get; } = new();

    /// <summary>Throws when a setting is outside its valid range.</summary>
    public void Validate()
    {
        if (Levels < 1) throw new ArgumentException($"ClassicalFlowOptions: Levels is {Levels}, expected at least 1.");
        if (!(ScaleFactor > 0 && ScaleFactor < 1)) throw new ArgumentException($"ClassicalFlowOptions: ScaleFactor is {ScaleFactor}, expected a value in (0, 1).");
        if (MinLevelSize < 2) throw new ArgumentException($"ClassicalFlowOptions: MinLevelSize is {MinLevelSize}, expected at least 2.");
        if (Warps < 1) throw new ArgumentException($"ClassicalFlowOptions: Warps is {Warps}, expected at least 1.");
        if (Iterations < 1) throw new ArgumentException($"ClassicalFlowOptions: Iterations is {Iterations}, expected at least 1.");
        if (FinestIterations is < 1) throw new ArgumentException($"ClassicalFlowOptions: FinestIterations is {FinestIterations}, expected at least 1 (or null).");
        if (!(Lambda > 0) || float.IsInfinity(Lambda)) throw new ArgumentException($"ClassicalFlowOptions: Lambda is {Lambda}, expected a finite positive value.");
        if (!(Theta > 0) || float.IsInfinity(Theta)) throw new ArgumentException($"ClassicalFlowOptions: Theta is {Theta}, expected a finite positive value.");
        if (!(Tau > 0 && Tau <= 0.25f)) throw new ArgumentException($"ClassicalFlowOptions: Tau is {Tau}, expected a value in (0, 0.25].");
        if (!(Gamma >= 0) || float.IsInfinity(Gamma)) throw new ArgumentException($"ClassicalFlowOptions: Gamma is {Gamma}, expected a finite value >= 0.");
        if (!(TextureAlpha >= 0 && TextureAlpha <= 1)) throw new ArgumentException($"ClassicalFlowOptions: TextureAlpha is {TextureAlpha}, expected a value in [0, 1].");
        if (!(TextureSigma > 0) || float.IsInfinity(TextureSigma)) throw new ArgumentException($"ClassicalFlowOptions: TextureSigma is {TextureSigma}, expected a finite positive value.");
        if (!(NormalizeSigma >= 0) || float.IsInfinity(NormalizeSigma)) throw new ArgumentException($"ClassicalFlowOptions: NormalizeSigma is {NormalizeSigma}, expected a finite value >= 0.");
        if (!(PreSmoothSigma >= 0) || float.IsInfinity(PreSmoothSigma)) throw new ArgumentException($"ClassicalFlowOptions: PreSmoothSigma is {PreSmoothSigma}, expected a finite value >= 0.");
    }
}
